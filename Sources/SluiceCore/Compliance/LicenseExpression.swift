import Foundation

/// A licence expression in SPDX terms: licence ids combined with `AND`, `OR` and `WITH`.
///
/// Leaves that could not be recognised are kept as ``unknown(_:)`` with their original text, so a partly understood
/// expression (`MIT OR <something odd>`) still evaluates.
public indirect enum LicenseExpression: Sendable, Hashable {
    /// An SPDX licence id (`MIT`, `GPL-3.0-or-later`) or a `LicenseRef-…` reference.
    case license(String)
    /// Text that names no licence Sluice recognises.
    case unknown(String)
    /// A licence with an exception (`GPL-3.0-only WITH GCC-exception-3.1`); the exception only adds permissions.
    case with(LicenseExpression, exception: String)
    /// Every operand applies.
    case and([LicenseExpression])
    /// The user may choose any operand.
    case or([LicenseExpression])

    /// The SPDX text, with parentheses around nested operations (`MIT OR (BSD-3-Clause AND Zlib)`); unknown leaves
    /// are written as their text in double quotes, so such a result is never mistaken for valid SPDX.
    public var spdx: String {
        switch self {
        case .license(let id): return id
        case .unknown(let text): return "\"\(text)\""
        case .with(let license, let exception): return "\(license.operandText(inside: .with)) WITH \(exception)"
        case .and(let operands): return operands.map { $0.operandText(inside: .and) }.joined(separator: " AND ")
        case .or(let operands): return operands.map { $0.operandText(inside: .or) }.joined(separator: " OR ")
        }
    }

    private enum Context { case and, or, with }

    private func operandText(inside context: Context) -> String {
        switch (self, context) {
        case (.or, .and), (.and, .or), (.or, .with), (.and, .with), (.with, .with): return "(\(spdx))"
        default: return spdx
        }
    }

    /// Whether every leaf was recognised.
    public var isKnown: Bool {
        switch self {
        case .license: return true
        case .unknown: return false
        case .with(let license, _): return license.isKnown
        case .and(let operands), .or(let operands): return operands.allSatisfy(\.isKnown)
        }
    }

    /// Every recognised licence id, in order of appearance, without repeats.
    public var licenseIDs: [String] {
        var seen = Set<String>()
        var result: [String] = []
        func visit(_ expression: LicenseExpression) {
            switch expression {
            case .license(let id): if seen.insert(id).inserted { result.append(id) }
            case .unknown: break
            case .with(let license, _): visit(license)
            case .and(let operands), .or(let operands): operands.forEach(visit)
            }
        }
        visit(self)
        return result
    }

    /// The text of every unrecognised leaf.
    public var unknownParts: [String] {
        switch self {
        case .license: return []
        case .unknown(let text): return [text]
        case .with(let license, _): return license.unknownParts
        case .and(let operands), .or(let operands): return operands.flatMap(\.unknownParts)
        }
    }
}

/// A record's `license` field as written and as understood.
public struct NormalizedLicense: Sendable, Hashable, Codable {
    /// The field's text as the package gives it; nil when the field is missing.
    public var original: String?
    /// The parsed expression; nil when the field is missing, empty or says there is no information (`None`,
    /// `Unknown`, `NOASSERTION`).
    public var expression: LicenseExpression?

    /// Creates a value.
    public init(original: String?, expression: LicenseExpression?) {
        self.original = original
        self.expression = expression
    }

    /// The SPDX expression when every part was recognised, else nil.
    public var spdx: String? {
        guard let expression, expression.isKnown else { return nil }
        return expression.spdx
    }

    /// Whether the field is missing or says nothing.
    public var isMissing: Bool { expression == nil }

    /// Whether the field was fully recognised.
    public var isKnown: Bool { expression?.isKnown ?? false }

    enum CodingKeys: String, CodingKey {
        case original, spdx, known, unknownParts
    }

    /// Decodes the summary written by ``encode(to:)`` by normalising `original` again.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self = LicenseNormalizer.normalize(try container.decodeIfPresent(String.self, forKey: .original))
    }

    /// Encodes `{"original", "spdx" (null when not fully known), "known", "unknownParts"}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(original, forKey: .original)
        try container.encode(spdx, forKey: .spdx)
        try container.encode(isKnown, forKey: .known)
        try container.encode(expression?.unknownParts ?? [], forKey: .unknownParts)
    }
}
