import LedgerClient
import LedgerCore
import Testing

/// Client order ids as Binance's `newClientOrderId` (issue 10): the type's domain, its
/// numeric form, and the command layouts that carry each form.
@Suite struct ClientOrderIDTests {
    static let allowed = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:/_-".utf8)

    @Test func everyAllowedByteAtEveryPositionRoundTrips() throws {
        for byte in Self.allowed {
            for length in 1...ClientOrderID.lengthMax {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                bytes[length - 1] = byte
                bytes[(length - 1) / 2] = byte
                let id = try #require(ClientOrderID(bytes: bytes))
                #expect(id.bytes == bytes && id.count == length && !id.isNone)
                #expect(ClientOrderID(text: id.text) == id)
            }
        }
    }

    @Test func theDomainIsExactlyBinances() {
        // Every byte outside the set is refused, alone and inside an id.
        for byte in 0...255 as ClosedRange<UInt8> where !Self.allowed.contains(byte) {
            #expect(ClientOrderID(bytes: [byte]) == nil, "byte \(byte)")
            #expect(ClientOrderID(bytes: Array("ab".utf8) + [byte] + Array("cd".utf8)) == nil, "byte \(byte)")
        }
        #expect(ClientOrderID(text: String(repeating: "x", count: 36)) != nil)
        #expect(ClientOrderID(text: String(repeating: "x", count: 37)) == nil)
        #expect(ClientOrderID(text: "é") == nil && ClientOrderID(text: "a b") == nil)
        #expect(ClientOrderID(text: "") == ClientOrderID.none)
    }

    @Test func numbersAreTheirDecimalText() {
        #expect(ClientOrderID(0) == .none && ClientOrderID(0).isNumeric && ClientOrderID(0).number == nil)
        #expect(ClientOrderID(42).text == "42" && ClientOrderID(42).number == 42)
        #expect(ClientOrderID(text: "42") == ClientOrderID(42))
        let max = ClientOrderID(Limits.idMax)
        #expect(max.text == "9223372036854775807" && max.number == Limits.idMax && max.isNumeric)
        // Beyond the numeric domain, or with a leading zero: text.
        #expect(ClientOrderID(Limits.idMax + 1).number == nil && !ClientOrderID(Limits.idMax + 1).isNumeric)
        #expect(ClientOrderID(UInt64.max).text == "18446744073709551615" && ClientOrderID(UInt64.max).number == nil)
        #expect(ClientOrderID(text: "042")!.number == nil && ClientOrderID(text: "0")!.number == nil)
        #expect(ClientOrderID(text: String(repeating: "9", count: 36))!.number == nil)
        #expect(ClientOrderID(text: "4a")!.number == nil)
    }

    /// `number` and `init(_:)` (read and made digit by digit where they lie) against the
    /// decimal text as Swift writes and reads it: every power of ten and its neighbours, the
    /// numeric domain's edges, and ids of digits that are not numbers.
    @Test func numbersAgreeWithTheirDecimalTextEverywhere() throws {
        var values: [UInt64] = [1, 9, 10, 11, Limits.idMax - 1, Limits.idMax, Limits.idMax + 1, .max - 1, .max]
        var power: UInt64 = 1
        while true {
            values += [power - 1, power, power + 1]
            let (next, overflow) = power.multipliedReportingOverflow(by: 10)
            if overflow { break }
            power = next
        }
        var random = SeededRandom(seed: 12)
        values += (0..<10_000).map { _ in random.next() >> (random.next() % 64) }
        for value in values where value > 0 {
            let id = ClientOrderID(value)
            #expect(id.text == String(value), "\(value) is written \(id.text)")
            #expect(id.number == (value <= Limits.idMax ? value : nil), "\(value) reads back as \(String(describing: id.number))")
            #expect(id.isNumeric == (value <= Limits.idMax), "\(value)")
        }
        // Digits that are not the numeric form: a leading zero, more than 19 digits, a
        // letter among them, a sign.
        for text in ["0", "00", "01", "0042", "12345678901234567890", "1234567890123456789012345678901234", "12a", "a12", "-1", "1.5"] {
            let id = try #require(ClientOrderID(text: text))
            #expect(id.number == nil && !id.isNumeric, "\(text) reads as \(String(describing: id.number))")
        }
        #expect(ClientOrderID.none.number == nil && ClientOrderID.none.isNumeric)
    }

    @Test func numericIDsSortByValueBeforeText() {
        let ids: [ClientOrderID] = [ClientOrderID(text: "b")!, 10, ClientOrderID(text: "0042")!, 9, ClientOrderID(text: "a")!, 100]
        #expect(ids.sorted().map(\.text) == ["9", "10", "100", "0042", "a", "b"])
    }

    /// Which tag each form takes, and that each decodes to itself.
    @Test func eachFormHasOneLayout() throws {
        func tag(_ command: Command) throws -> UInt8 {
            var writer = ByteWriter()
            command.encode(to: &writer)
            var reader = ByteReader(writer.bytes)
            #expect(try Command.decode(from: &reader) == command)
            #expect(reader.isAtEnd)
            return writer.bytes[0]
        }
        func order(_ client: ClientOrderID, stop: Int64 = 0) -> Command {
            .placeOrder(
                PlaceOrder(
                    account: 1, symbol: 0, side: .buy, type: stop == 0 ? .limit : .stopMarket, timeInForce: .gtc,
                    priceUnits: stop == 0 ? 100 : 0, quantityUnits: 1, clientOrderID: client, stopPriceUnits: stop))
        }
        let text = ClientOrderID(text: "x-1")!
        #expect(try tag(order(.none)) == 6 && tag(order(5)) == 6 && tag(order(text)) == 24)
        #expect(try tag(order(5, stop: 90)) == 16 && tag(order(text, stop: 90)) == 24)
        #expect(try tag(.cancelOrder(CancelOrder(account: 1, clientOrderID: 5))) == 7)
        #expect(try tag(.cancelOrder(CancelOrder(account: 1, clientOrderID: text))) == 25)
        #expect(try tag(.amendOrder(AmendOrder(account: 1, clientOrderID: 5, priceUnits: 1, quantityUnits: 1))) == 17)
        #expect(try tag(.amendOrder(AmendOrder(account: 1, clientOrderID: text, priceUnits: 1, quantityUnits: 1))) == 26)
    }

    /// The text tags refuse what another layout writes and what is outside the domain,
    /// naming the field and the byte.
    @Test func theTextTagsRefuseEveryOtherValue() throws {
        func decode(_ bytes: [UInt8]) -> Result<Command, CodecError> {
            var reader = ByteReader(bytes)
            do { return .success(try Command.decode(from: &reader)) } catch { return .failure(error) }
        }
        // cancelOrder, tag 25: account 1, order id 0, then the id's length and bytes.
        func cancel(_ id: [UInt8]) -> [UInt8] { [25, 1, 0, UInt8(id.count)] + id }
        #expect(
            try decode(cancel(Array("ok".utf8))).get() == .cancelOrder(CancelOrder(account: 1, clientOrderID: ClientOrderID(text: "ok")!)))
        for (bytes, message) in [
            (cancel([]), "client order id layout (numeric: the varint tags) out of range at byte 3"),
            (cancel(Array("12".utf8)), "client order id layout (numeric: the varint tags) out of range at byte 3"),
            (
                cancel(Array("a b".utf8)),
                #"client order id "a\x20b" (3 bytes) is outside its domain 1 ... 36 characters of [.A-Z:/a-z0-9_-] at byte 3"#
            ),
            (cancel([UInt8](repeating: 0x61, count: 37)), "client order id out of range at byte 3"),
            ([25, 1, 0, 5] + Array("ab".utf8), "input ends inside a field at byte 4"),
        ] {
            guard case .failure(let error) = decode(bytes) else {
                Issue.record("\(bytes) decoded")
                continue
            }
            #expect(error.description == message)
        }
        // The numeric tags refuse an id beyond 2^63 − 1 (its text is written in tag 25).
        var writer = ByteWriter()
        writer.u8(7)
        writer.varint(1)
        writer.varint(0)
        writer.varint(Limits.idMax + 1)
        guard case .failure(let error) = decode(writer.bytes) else {
            Issue.record("tag 7 took 2^63")
            return
        }
        #expect(error.description.hasPrefix("client order id 9223372036854775808 is outside its domain"))
    }
}
