/// The field shapes many commands and events share, written and read in one place:
/// a symbol with a signed value (prices, rates), an account, a symbol and a signed value
/// or a flag, and an account, an asset and a signed amount.
extension ByteSink {
    mutating func symbolValue(_ tag: UInt8, _ symbol: SymbolID, _ value: Int64) {
        u8(tag)
        varint(UInt64(symbol))
        zigzag(value)
    }

    mutating func accountSymbolValue(_ tag: UInt8, _ account: AccountID, _ symbol: SymbolID, _ value: Int64) {
        u8(tag)
        varint(account)
        varint(UInt64(symbol))
        zigzag(value)
    }

    mutating func accountAssetValue(_ tag: UInt8, _ account: AccountID, _ asset: AssetID, _ value: Int64) {
        u8(tag)
        varint(account)
        varint(UInt64(asset))
        zigzag(value)
    }

    mutating func accountSymbolFlag(_ tag: UInt8, _ account: AccountID, _ symbol: SymbolID, _ flag: Bool) {
        u8(tag)
        varint(account)
        varint(UInt64(symbol))
        u8(flag ? 1 : 0)
    }

    /// A cancel's or an amend's target: the account, the order and a numeric client order
    /// id (0 for none).
    mutating func accountOrderClientNumber(_ tag: UInt8, _ account: AccountID, _ orderID: OrderID, _ clientOrderID: ClientOrderID) {
        u8(tag)
        varint(account)
        varint(orderID)
        varint(clientOrderID.number ?? 0)
    }
}

extension ByteReader {
    mutating func rejectReason() throws(CodecError) -> RejectReason {
        let reasonOffset = offset
        guard let reason = RejectReason(rawValue: try varint(as: UInt16.self, field: "reason")) else {
            throw .outOfRange(field: "reject reason", offset: reasonOffset)
        }
        return reason
    }

    mutating func side() throws(CodecError) -> Side {
        let sideOffset = offset
        guard let side = Side(rawValue: try u8()) else { throw .outOfRange(field: "side", offset: sideOffset) }
        return side
    }

    mutating func symbolValue() throws(CodecError) -> (SymbolID, Int64) {
        (try varint(as: SymbolID.self, field: "symbol"), try zigzag())
    }

    mutating func accountSymbolValue() throws(CodecError) -> (AccountID, SymbolID, Int64) {
        (try id(field: "account"), try varint(as: SymbolID.self, field: "symbol"), try zigzag())
    }

    mutating func accountAssetValue() throws(CodecError) -> (AccountID, AssetID, Int64) {
        (try id(field: "account"), try varint(as: AssetID.self, field: "asset"), try zigzag())
    }

    mutating func accountSymbolFlag(field: String) throws(CodecError) -> (AccountID, SymbolID, Bool) {
        let account = try id(field: "account")
        let symbol = try varint(as: SymbolID.self, field: "symbol")
        let flagOffset = offset
        let flag = try u8()
        guard flag <= 1 else { throw .outOfRange(field: field, offset: flagOffset) }
        return (account, symbol, flag == 1)
    }
}
