import Foundation

/// A mutex with two condition variables, so that the engine and the writer thread each
/// wait on their own and a signal meant for one never wakes (only) the other.
final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let engineCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let writerCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Callers of `stopAndDrain`.
    private let drainCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    enum Waiter {
        case engine
        case writer
        case drain
    }

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(engineCondition, nil)
        pthread_cond_init(writerCondition, nil)
        pthread_cond_init(drainCondition, nil)
    }

    deinit {
        pthread_cond_destroy(drainCondition)
        pthread_cond_destroy(writerCondition)
        pthread_cond_destroy(engineCondition)
        pthread_mutex_destroy(mutex)
        for pointer in [engineCondition, writerCondition, drainCondition] { pointer.deallocate() }
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Waits (the lock held) until woken.
    func wait(_ waiter: Waiter) { pthread_cond_wait(condition(waiter), mutex) }
    func wake(_ waiter: Waiter) { pthread_cond_broadcast(condition(waiter)) }

    /// Waits (the lock held) until woken or until the wall clock reads `wallNanos`
    /// (CLOCK_REALTIME, the clock the sequencer stamps entries with).
    func wait(_ waiter: Waiter, untilWallNanos wallNanos: Int64) {
        var deadline = timespec(tv_sec: Int(wallNanos / 1_000_000_000), tv_nsec: Int(wallNanos % 1_000_000_000))
        _ = pthread_cond_timedwait(condition(waiter), mutex, &deadline)
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    private func condition(_ waiter: Waiter) -> UnsafeMutablePointer<pthread_cond_t> {
        switch waiter {
        case .engine: engineCondition
        case .writer: writerCondition
        case .drain: drainCondition
        }
    }
}
