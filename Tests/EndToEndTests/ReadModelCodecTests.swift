import Foundation
import LedgerClient
import LedgerCore
import Testing

@testable import Projection

/// The projector's binary COPY against a real PostgreSQL: every value the read models hold
/// reads back as the engine wrote it. Numerics over every scale the catalog allows and the
/// whole Int64 range (and Σ price × quantity beyond it), timestamps on both sides of 1970
/// and of 2000, text with every byte COPY's text format would have had to escape.
/// (In ProjectionTests' suite, which runs its tests one at a time: one of them restarts
/// the server.)
extension ProjectionTests {
    func connection() throws -> PostgresConnection {
        guard let url = ProcessInfo.processInfo.environment["LEDGER_PG_URL"] else {
            throw PostgresError(message: "LEDGER_PG_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL")
        }
        let connection = try PostgresConnection(url: url)
        try connection.execute("SET TimeZone TO 'UTC'")
        return connection
    }

    @Test func numericsReadBackExactlyAtEveryScale() throws {
        let database = try connection()
        try database.execute("CREATE TEMP TABLE numbers (id bigint, value numeric, scale int)")
        var expected: [Int: (Int128, Int)] = [:]
        var rows = BinaryCopy(columns: 3)
        var generator = SeededRandom(seed: 20_261_205)
        var values: [Int128] = [0, 1, -1, 9, 10, 9_999, 10_000, 10_001, 99_999_999, 100_000_000, Int128(Int64.max), Int128(Int64.min)]
        for power in 0..<19 {
            let ten = Int128(10).power(power)
            values += [ten, ten - 1, ten + 1, -ten, 1 - ten]
        }
        values += [Int128(Int64.max) * 1_000_000_000, -(Int128(Int64.max) * 999_999_999)]  // Σ p × q beyond 64 bits
        for _ in 0..<2_000 {
            values.append(Int128(Int64.random(in: Int64.min...Int64.max, using: &generator)) >> Int.random(in: 0...62, using: &generator))
        }
        for value in values {
            for scale in 0...20 {
                let id = expected.count
                expected[id] = (value, scale)
                rows.beginRow()
                rows.int8(Int64(id))
                rows.numeric(value, scale: scale)
                rows.int4(scale)
            }
        }
        try database.copy(into: "numbers", columns: ["id", "value", "scale"], rows: rows)
        var mismatches: [String] = []
        for row in try database.execute("SELECT id, value::text FROM numbers") {
            let id = Int(row[0] ?? "") ?? -1
            guard let (value, scale) = expected[id] else { continue }
            let wanted = DecimalText.format(value, scale: scale)
            if row[1] != wanted { mismatches.append("\(value) at scale \(scale): \(row[1] ?? "NULL"), wanted \(wanted)") }
            if OrderRecord.units128(row[1] ?? "", scale: scale) != value { mismatches.append("\(row[1] ?? "NULL") parses back wrong") }
        }
        #expect(try database.execute("SELECT count(*) FROM numbers").first?.first == .some(String(expected.count)))
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5))")
    }

    @Test func timestampsTextAndNullsReadBack() throws {
        let database = try connection()
        try database.execute("CREATE TEMP TABLE things (id bigint, at timestamptz, label text, flag boolean, small int)")
        let times: [Int64] = [
            0, 1, 999, 1_000, -1, -1_000, -1_001, 946_684_800_000_000_000, 946_684_799_999_999_999, 1_764_000_000_123_456_789,
            1_796_440_947_000_000_001, 9_223_372_036_854_775_807, -9_223_372_036_854_775_000,
        ]
        let labels = ["plain", "tab\there", "line\nbreak", "back\\slash", "quote'\"", "ünïcødé ₿", "", "\r\u{1}"]
        var rows = BinaryCopy(columns: 5)
        for (index, nanos) in times.enumerated() {
            rows.beginRow()
            rows.int8(Int64(index))
            rows.timestamp(nanos: nanos)
            rows.text(index < labels.count ? labels[index] : nil)
            rows.bool(index % 2 == 0)
            if index == 3 { rows.null() } else { rows.int4(index - 5) }
        }
        try database.copy(into: "things", columns: ["id", "at", "label", "flag", "small"], rows: rows)
        let back = try database.execute(
            "SELECT id, floor(extract(epoch FROM at) * 1000000)::bigint, at::text, label, flag, small FROM things ORDER BY id")
        #expect(back.count == times.count)
        for row in back {
            let index = Int(row[0] ?? "") ?? -1
            let nanos = times[index]
            let micros = nanos / 1_000 - (nanos % 1_000 < 0 ? 1 : 0)
            #expect(row[1] == String(micros), "time \(nanos): \(row)")
            #expect(OrderRecord.nanos(row[2]) == micros * 1_000, "time \(nanos) read back from \(row[2] ?? "NULL")")
            #expect(row[3] == (index < labels.count ? labels[index] : nil), "label \(index)")
            #expect(row[4] == (index % 2 == 0 ? "t" : "f"))
            #expect(row[5] == (index == 3 ? nil : String(index - 5)))
        }
    }
}

extension Int128 {
    func power(_ exponent: Int) -> Int128 { (0..<exponent).reduce(Int128(1)) { result, _ in result * self } }
}
