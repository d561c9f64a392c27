import Foundation

/// A conda version constraint (`conda.models.version.VersionSpec`), as found in the version field of a match spec.
///
/// Supported forms, with conda's meaning:
/// - `==1.2`, `!=1.2`, `>=1.2`, `>1.2`, `<=1.2`, `<1.2`: compared with ``VersionOrder`` (so `==1.2` matches `1.2.0`);
/// - `~=1.2.3`: compatible release, `>=1.2.3` and starting with `1.2`;
/// - `=1.2`, `1.2.*`, `1.2*`: prefix match (``VersionOrder/starts(with:)``): `1.2`, `1.2.0`, `1.2.7`, `1.2a` match,
///   `1.20` does not; `>=1.2.*` is `>=1.2`, `!=1.2.*` is "does not start with 1.2";
/// - a bare version `1.2` means `==1.2` (in a match spec string, only `=1.2` with a single `=` becomes a prefix
///   match, see ``MatchSpec``);
/// - `*` matches everything; a `*` inside (`1.*.3`) is a glob over the version string; `^…$` is a regular expression;
/// - `,` is "and", `|` is "or", `,` binds tighter, and parentheses group.
public struct VersionSpec: Sendable, Hashable, CustomStringConvertible {
    indirect enum Node: Sendable, Hashable {
        case any
        case relation(Relation, VersionOrder)
        case glob(String)
        case regex(String)
        /// A spec containing `@`, which conda compares as a plain string.
        case exact(String)
        case all([Node])
        case anyOf([Node])
    }

    enum Relation: Sendable, Hashable {
        case equal, notEqual, greaterOrEqual, greater, lessOrEqual, less
        case startsWith, notStartsWith, compatible
    }

    let node: Node
    /// The spec as written (trimmed).
    public let spec: String

    public var description: String { spec }

    /// Parses a version constraint.
    /// - Throws: `SluiceError.invalidInput` for unbalanced parentheses, a dangling `,`/`|`, an unknown operator
    ///   (`<>1`, `=>1`), an operator followed by a space, `~=` with `.*`, or an invalid version.
    public init(_ string: String) throws(SluiceError) {
        let trimmed = string.trimmingCharacters(in: .whitespaces)
        spec = trimmed
        guard !trimmed.isEmpty else { throw .invalidInput("Empty version spec.") }
        if trimmed.contains(where: { "()|,^$".contains($0) }) {
            node = try Self.parseTree(trimmed)
        } else {
            node = try Self.parseSingle(trimmed, whole: trimmed)
        }
    }

    /// Whether `version` satisfies the constraint. Globs and regular expressions are matched against the
    /// normalised version string (``VersionOrder/normalized``).
    public func matches(_ version: VersionOrder) -> Bool {
        Self.evaluate(node, version, raw: version.normalized)
    }

    /// Whether the version string `version` satisfies the constraint; an unparsable version only matches `*`, a
    /// glob, a regular expression or an `@` spec that accepts its text.
    public func matches(_ version: String) -> Bool {
        if let order = try? VersionOrder(version) {
            return Self.evaluate(node, order, raw: version)
        }
        return Self.evaluateRaw(node, raw: version)
    }

    // MARK: Evaluation

    static func evaluate(_ node: Node, _ version: VersionOrder, raw: String) -> Bool {
        switch node {
        case .any: return true
        case .relation(let relation, let other):
            switch relation {
            case .equal: return version == other
            case .notEqual: return version != other
            case .greaterOrEqual: return version >= other
            case .greater: return version > other
            case .lessOrEqual: return version <= other
            case .less: return version < other
            case .startsWith: return version.starts(with: other)
            case .notStartsWith: return !version.starts(with: other)
            case .compatible:
                guard version >= other else { return false }
                guard let prefix = compatiblePrefix(of: other) else { return false }
                return version.starts(with: prefix)
            }
        case .glob(let pattern): return globMatch(pattern: Array(pattern.utf8), text: Array(raw.utf8))
        case .regex(let pattern): return regexMatch(pattern, raw)
        case .exact(let text): return text == raw
        case .all(let nodes): return nodes.allSatisfy { evaluate($0, version, raw: raw) }
        case .anyOf(let nodes): return nodes.contains { evaluate($0, version, raw: raw) }
        }
    }

    static func evaluateRaw(_ node: Node, raw: String) -> Bool {
        switch node {
        case .any: return true
        case .relation: return false
        case .glob(let pattern): return globMatch(pattern: Array(pattern.utf8), text: Array(raw.utf8))
        case .regex(let pattern): return regexMatch(pattern, raw)
        case .exact(let text): return text == raw
        case .all(let nodes): return nodes.allSatisfy { evaluateRaw($0, raw: raw) }
        case .anyOf(let nodes): return nodes.contains { evaluateRaw($0, raw: raw) }
        }
    }

    /// conda's `~=` prefix: the version string without its last `.`-separated part (`1.2.3` → `1.2`).
    static func compatiblePrefix(of version: VersionOrder) -> VersionOrder? {
        let parts = version.normalized.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return nil }
        return try? VersionOrder(parts.dropLast().joined(separator: "."))
    }

    static func regexMatch(_ pattern: String, _ text: String) -> Bool {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        guard let match = regex.firstMatch(in: text, options: [.anchored], range: range) else { return false }
        return match.range.location == 0
    }

    /// Matches `text` against `pattern` where `*` stands for any run of bytes (conda turns such specs into `.*`).
    static func globMatch(pattern: [UInt8], text: [UInt8]) -> Bool {
        var p = 0
        var t = 0
        var star = -1
        var mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = p
                mark = t
                p += 1
            } else if p < pattern.count, pattern[p] == text[t] {
                p += 1
                t += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    // MARK: Parsing

    /// Parses one constraint without `,`, `|` or parentheses (conda's `VersionSpec.get_matcher` on a string).
    static func parseSingle(_ text: String, whole: String) throws(SluiceError) -> Node {
        let spec = text.trimmingCharacters(in: .whitespaces)
        func invalid(_ reason: String) -> SluiceError {
            .invalidInput("Invalid version spec '\(whole)': \(reason).")
        }
        guard let first = spec.first, let last = spec.last else { throw invalid("empty constraint") }
        if first == "^" || last == "$" {
            guard first == "^", last == "$" else { throw invalid("regex specs must start with '^' and end with '$'") }
            guard (try? NSRegularExpression(pattern: spec)) != nil else { throw invalid("invalid regular expression") }
            return .regex(spec)
        }
        if "=<>!~".contains(first) {
            let (operatorText, versionText) = try splitOperator(spec, invalid: invalid)
            var relation: Relation
            switch operatorText {
            case "==": relation = .equal
            case "!=": relation = .notEqual
            case "<=": relation = .lessOrEqual
            case ">=": relation = .greaterOrEqual
            case "<": relation = .less
            case ">": relation = .greater
            case "=": relation = .startsWith
            case "~=": relation = .compatible
            default: throw invalid("invalid operator '\(operatorText)'")
            }
            var versionString = versionText
            if versionString.hasSuffix(".*") {
                versionString = String(versionString.dropLast(2))
                switch relation {
                case .notEqual: relation = .notStartsWith
                case .compatible: throw invalid("invalid operator with '.*'")
                default: break
                }
            }
            let version = try VersionOrder(versionString)
            if relation == .compatible, compatiblePrefix(of: version) == nil {
                throw invalid("'~=' needs a version with at least two components")
            }
            return .relation(relation, version)
        }
        if spec == "*" { return .any }
        var withoutTrailingStars = Substring(spec)
        while withoutTrailingStars.last == "*" { withoutTrailingStars = withoutTrailingStars.dropLast() }
        if withoutTrailingStars.contains("*") {
            return .glob(spec)
        }
        if last == "*" {
            var prefix = withoutTrailingStars
            while prefix.last == "." { prefix = prefix.dropLast() }
            return .relation(.startsWith, try VersionOrder(String(prefix)))
        }
        if spec.contains("@") {
            return .exact(spec)
        }
        return .relation(.equal, try VersionOrder(spec))
    }

    /// Splits `>=1.2` into (`>=`, `1.2`), rejecting what conda's `version_relation_re` rejects.
    static func splitOperator(
        _ spec: String, invalid: (String) -> SluiceError
    ) throws(SluiceError) -> (String, String) {
        let bytes = Array(spec.utf8)
        let operatorCharacters: Set<UInt8> = [0x3D, 0x3C, 0x3E, 0x21, 0x7E]  // = < > ! ~
        var length = 0
        for candidate in ["==", "!=", "<=", ">=", "~=", "=", "<", ">"] where spec.hasPrefix(candidate) {
            length = candidate.utf8.count
            break
        }
        guard length > 0 else { throw invalid("invalid operator") }
        guard length < bytes.count, !operatorCharacters.contains(bytes[length]) else {
            throw invalid("invalid operator")
        }
        let rest = bytes[length...]
        guard !rest.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else {
            throw invalid("no space is allowed after an operator")
        }
        return (String(decoding: bytes[0..<length], as: UTF8.self), String(decoding: rest, as: UTF8.self))
    }

    /// Parses an expression with `,` (and), `|` (or) and parentheses into a tree (conda's `treeify`).
    static func parseTree(_ text: String) throws(SluiceError) -> Node {
        func invalid(_ reason: String) -> SluiceError {
            .invalidInput("Invalid version spec '\(text)': \(reason).")
        }
        // Tokenise: regexes `^...$`, the punctuation ( ) | , and everything else.
        var tokens: [String] = []
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character == " " || character == "\t" {
                index += 1
                continue
            }
            if character == "^" {
                var end = index
                while end < characters.count, characters[end] != "$" { end += 1 }
                guard end < characters.count else { throw invalid("regex specs must end with '$'") }
                tokens.append(String(characters[index...end]))
                index = end + 1
                continue
            }
            if "()|,".contains(character) {
                tokens.append(String(character))
                index += 1
                continue
            }
            var end = index
            while end < characters.count, !"()|,".contains(characters[end]) { end += 1 }
            let token = String(characters[index..<end]).trimmingCharacters(in: .whitespaces)
            if !token.isEmpty { tokens.append(token) }
            index = end
        }
        var position = 0
        func parseOr() throws(SluiceError) -> Node {
            var terms = [try parseAnd()]
            while position < tokens.count, tokens[position] == "|" {
                position += 1
                terms.append(try parseAnd())
            }
            return terms.count == 1 ? terms[0] : .anyOf(terms)
        }
        func parseAnd() throws(SluiceError) -> Node {
            var terms = [try parsePrimary()]
            while position < tokens.count, tokens[position] == "," {
                position += 1
                terms.append(try parsePrimary())
            }
            return terms.count == 1 ? terms[0] : .all(terms)
        }
        func parsePrimary() throws(SluiceError) -> Node {
            guard position < tokens.count else { throw invalid("expression ends after an operator") }
            let token = tokens[position]
            switch token {
            case "(":
                position += 1
                let inner = try parseOr()
                guard position < tokens.count, tokens[position] == ")" else { throw invalid("missing ')'") }
                position += 1
                return inner
            case ")", "|", ",":
                throw invalid("unexpected '\(token)'")
            default:
                position += 1
                return try parseSingle(token, whole: text)
            }
        }
        let node = try parseOr()
        guard position == tokens.count else { throw invalid("unexpected '\(tokens[position])'") }
        return node
    }
}
