import AllocCount
import Foundation
import LedgerClient
import LedgerCore

// The engine's rooms one at a time, at the size of a real venue (issue 12;
// docs/ARCHITECTURE.md, docs/BENCHMARKS.md "Rooms"):
//
//     swift build -c release --product RoomBench
//     .build/release/RoomBench ledger [ACCOUNTS] [ENTRIES]     (defaults 1,000,000, 2,000,000)
//     .build/release/RoomBench idempotency [RECORDS] [ENTRIES] (defaults 1,000,000, 2,000,000)
//
// `ledger`: a `LedgerRoom` opens ACCOUNTS accounts (ns an account), then takes ENTRIES
// entries of two postings each — a user account chosen at random pays a fee into the
// fees account and receives it back from external, the way a fill's and a transfer's
// postings touch the accounts — each closed by the entry check (`entryBalances`): ns an
// entry. At the end the balances must net to zero per asset and `entryViolation` be nil.
// `idempotency`: an `IdempotencyRoom` whose window keeps RECORDS transfer ids is filled,
// then takes ENTRIES entries that each remember a new transfer and expire what left the
// window (one record each in steady state): ns an entry. At the end exactly the last
// RECORDS ids are remembered.
// The book room has its own figures in MatcherBench (the contest feed and the growing
// book, through the room alone); the risk and funding rooms keep lists that the engine's
// profiles cover (EngineProfile rulebook, ScaleProfile).

func nanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func format(_ value: Double) -> String { String(format: value < 100 ? "%.1f" : "%.0f", value) }

func ledger(accounts: Int, entries: Int) {
    var room = LedgerRoom()
    room.listAsset()
    room.listSymbol()
    room.reserveAccounts(Int64(accounts))
    var random = SeededRandom(seed: 8)
    // Ids as a venue hands them out: sparse, not dense.
    let ids = (0..<accounts).map { AccountID($0) * 7_919 + 1_000_003 }
    var allocations = ac_allocations()
    var began = nanos()
    for id in ids { _ = room.open(id) }
    let openNanos = Double(nanos() - began) / Double(accounts)
    let openAllocations = Double(ac_allocations() - allocations) * 1_000 / Double(accounts)
    allocations = ac_allocations()
    began = nanos()
    for entry in 0..<entries {
        let user = Int(random.next() % UInt64(accounts))
        let fee = Int64(1 + entry % 1_000)
        room.credit(.user(user), asset: 0, amountMinor: -fee)
        room.credit(.system(.fees), asset: 0, amountMinor: fee)
        room.credit(.user(user), asset: 0, amountMinor: fee)
        room.credit(.system(.external), asset: 0, amountMinor: -fee)
        precondition(room.entryBalances(), "entry \(entry) does not balance")
    }
    let entryNanos = Double(nanos() - began) / Double(entries)
    let entryAllocations = Double(ac_allocations() - allocations) * 1_000 / Double(entries)
    precondition(room.entryViolation(sequence: UInt64(entries)) == nil)
    var total = Int128(room.systemBalance(.fees, asset: 0)) + Int128(room.systemBalance(.external, asset: 0))
    for account in room.accounts { total += Int128(account.balance(0)) }
    precondition(total == 0 && room.accounts.count == accounts, "the ledger does not net to zero")
    print(
        "ledger room: \(accounts) accounts opened at \(format(openNanos)) ns an account (\(format(openAllocations)) allocations per 1,000); "
            + "\(entries) entries of 4 postings and the entry check at \(format(entryNanos)) ns an entry "
            + "(\(format(entryAllocations)) allocations per 1,000); fees collected \(room.systemBalance(.fees, asset: 0)), nets to zero")
}

func idempotency(records: Int, entries: Int) {
    let window = IdempotencyWindow(transferSeconds: 366 * 86_400, clientOrderSeconds: 86_400, maxRecords: Int64(records))
    var room = IdempotencyRoom(window: window)
    let books = BookRoom()
    func record(_ id: TransferID) -> TransferRecord {
        TransferRecord(sequence: id, kind: .deposit, transfer: Transfer(transferID: id, account: 1, asset: 0, amountMinor: 1))
    }
    // Transfer ids are the clients' own: spread them.
    func transferID(_ n: Int) -> TransferID { TransferID(n) &* 0x9E37_79B9 &+ 17 }
    let start: Int64 = 1_780_000_000_000_000_000
    var began = nanos()
    for n in 0..<records {
        let time = start + Int64(n) * 1_000
        room.expire(now: time, budget: Limits.idempotencyExpiriesPerEntryMax, bounded: true, books: books)
        room.rememberTransfer(record(transferID(n)), timeNanos: time)
    }
    let fillNanos = Double(nanos() - began) / Double(records)
    let allocations = ac_allocations()
    began = nanos()
    for n in records..<(records + entries) {
        let time = start + Int64(n) * 1_000
        room.expire(now: time, budget: Limits.idempotencyExpiriesPerEntryMax, bounded: true, books: books)
        room.rememberTransfer(record(transferID(n)), timeNanos: time)
    }
    let entryNanos = Double(nanos() - began) / Double(entries)
    let entryAllocations = Double(ac_allocations() - allocations) * 1_000 / Double(entries)
    // One more entry forgets the oldest beyond the maximum: exactly the last `records` stay.
    room.expire(now: start + Int64(records + entries) * 1_000, budget: .max, bounded: true, books: books)
    let last = records + entries - 1
    precondition(room.transfer(transferID(last)) != nil && room.transfer(transferID(last - records + 1)) != nil)
    precondition(room.transfer(transferID(last - records)) == nil && room.consistencyViolation() == nil)
    print(
        "idempotency room: filled with \(records) transfer ids at \(format(fillNanos)) ns an id; \(entries) entries that "
            + "remember one and forget one at \(format(entryNanos)) ns an entry (\(format(entryAllocations)) allocations per 1,000); "
            + "the last \(records) remembered, the one before forgotten")
}

let arguments = CommandLine.arguments
switch arguments.count > 1 ? arguments[1] : "" {
case "ledger":
    ledger(
        accounts: arguments.count > 2 ? Int(arguments[2])! : 1_000_000, entries: arguments.count > 3 ? Int(arguments[3])! : 2_000_000)
case "idempotency":
    idempotency(
        records: arguments.count > 2 ? Int(arguments[2])! : 1_000_000, entries: arguments.count > 3 ? Int(arguments[3])! : 2_000_000)
default:
    print("usage: RoomBench ledger [ACCOUNTS] [ENTRIES] | idempotency [RECORDS] [ENTRIES]")
    exit(2)
}
