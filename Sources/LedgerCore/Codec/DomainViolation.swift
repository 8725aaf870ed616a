/// A field outside its domain (docs/FORMATS.md, "Field domains"): what ingress answers
/// before anything is journaled, and what the decoder refuses.
public struct DomainViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field, by its name in docs/FORMATS.md ("account", "asset name", …).
    public var field: String
    /// The offending value, rendered for a message: never more than 40 characters, with
    /// bytes outside printable ASCII escaped.
    public var value: String
    /// The domain, as docs/FORMATS.md writes it.
    public var domain: String

    public init(field: String, value: String, domain: String) {
        self.field = field
        self.value = value
        self.domain = domain
    }

    public var description: String { "\(field) \(value) is outside its domain \(domain)" }

    static let idDomain = "0 ... 9223372036854775807 (2^63 - 1)"
    static let nameDomain = "1 ... 16 bytes of printable ASCII"

    /// An id above `Limits.idMax`.
    static func id(_ field: String, _ value: UInt64) -> DomainViolation? {
        value <= Limits.idMax ? nil : DomainViolation(field: field, value: String(value), domain: idDomain)
    }

    /// A name outside `Limits.isValidName`, quoted and cut short for the message.
    static func name(_ field: String, _ value: String) -> DomainViolation? {
        if Limits.isValidName(value) { return nil }
        return name(field, bytes: Array(value.utf8))
    }

    /// A name's bytes that are outside the domain, quoted for the message.
    static func name(_ field: String, bytes: [UInt8]) -> DomainViolation {
        DomainViolation(field: field, value: quoted(bytes), domain: nameDomain)
    }

    /// The first 24 bytes, printable ASCII as is and the rest as \xHH, and the length.
    public static func quoted(_ bytes: [UInt8]) -> String {
        var text = "\""
        for byte in bytes.prefix(24) {
            if byte > 0x20 && byte < 0x7F && byte != 0x22 && byte != 0x5C {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        text += bytes.count > 24 ? "…\" (\(bytes.count) bytes)" : "\" (\(bytes.count) bytes)"
        return text
    }
}

extension Command {
    /// The first field outside its domain, or nil when the command can be journaled: the
    /// codec writes and reads back exactly the commands for which this is nil. Ingress
    /// (TCP, HTTP) refuses a command with a violation before anything is journaled.
    ///
    /// Complexity: O(1) but for listings (O(name + brackets)).
    public func domainViolation() -> DomainViolation? {
        switch self {
        case .listAsset(let asset):
            return .name("asset name", asset.name)
        case .listSymbol(let spec):
            if let violation = DomainViolation.name("symbol name", spec.name) { return violation }
            guard spec.brackets.count >= 1, spec.brackets.count <= Limits.bracketsMax else {
                return DomainViolation(field: "bracket count", value: String(spec.brackets.count), domain: "1 ... \(Limits.bracketsMax)")
            }
            return nil
        case .deposit(let transfer), .withdraw(let transfer), .depositInsuranceFund(let transfer):
            return .id("transfer id", transfer.transferID) ?? .id("account", transfer.account)
        case .setLeverage(let account, _, _), .setMarginMode(let account, _, _), .adjustIsolatedMargin(let account, _, _),
            .cancelAllOrders(let account, _), .settleFunding(let account):
            return .id("account", account)
        case .placeOrder(let order):
            return .id("account", order.account)
        case .cancelOrder(let cancel):
            return .id("account", cancel.account) ?? .id("order id", cancel.orderID)
        case .amendOrder(let amend):
            return .id("account", amend.account) ?? .id("order id", amend.orderID)
        case .setMarkPrice, .setIndexPrice, .setFundingRate, .addPremiumSample, .setIdempotencyWindow, .tick:
            return nil
        case .setWorldLimits(let limits):
            return limits.isValid
                ? nil
                : DomainViolation(
                    field: "world limits", value: "\(limits)", domain: "each 1 ... its ceiling (docs/FORMATS.md, command 21)")
        case .entryExcised(let hash):
            return hash.count == 32
                ? nil : DomainViolation(field: "excised payload hash", value: "of \(hash.count) bytes", domain: "32 bytes")
        }
    }
}
