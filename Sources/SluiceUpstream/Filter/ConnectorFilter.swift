import SluiceCore

/// Which upstream packages a connector lets through, in ProGet's package-filter style.
///
/// A filter is a list of name patterns. `*` matches any run of characters (including none) and `?` exactly one
/// character; every other character matches itself, ignoring ASCII case (conda names are lowercase). A pattern that
/// starts with `!` blocks the names it matches.
///
/// A package name is allowed when:
/// 1. it matches no block pattern (`!…`), and
/// 2. either the filter has no allow pattern at all, or the name matches at least one allow pattern.
///
/// So `[]` allows everything, `["numpy", "scipy*"]` allows only those, `["!evil-*"]` allows everything except
/// `evil-…`, and `["py*", "!pytest"]` allows `python` and `pyyaml` but not `pytest` (a block always wins).
/// Blank entries are ignored; surrounding whitespace is trimmed.
public struct ConnectorFilter: Sendable, Hashable, CustomStringConvertible {
    /// The patterns as given (trimmed, blanks removed), in order; block patterns keep their `!`.
    public let patterns: [String]
    private let allowPatterns: [NamePattern]
    private let blockPatterns: [NamePattern]

    /// A filter that allows every package.
    public static let allowAll = ConnectorFilter([])

    /// Creates a filter from patterns such as `"numpy"`, `"py*"`, `"lib?"`, `"!evil-*"`.
    ///
    /// Blank entries and a bare `!` are ignored; use ``validated(_:)`` to reject them instead.
    public init(_ patterns: [String]) {
        var kept: [String] = []
        var allow: [NamePattern] = []
        var block: [NamePattern] = []
        for raw in patterns {
            let pattern = raw.trimmingASCIIWhitespace()
            if pattern.isEmpty { continue }
            if pattern.hasPrefix("!") {
                let body = String(pattern.dropFirst()).trimmingASCIIWhitespace()
                if body.isEmpty { continue }
                block.append(NamePattern(body))
                kept.append("!" + body)
            } else {
                allow.append(NamePattern(pattern))
                kept.append(pattern)
            }
        }
        self.patterns = kept
        self.allowPatterns = allow
        self.blockPatterns = block
    }

    /// Creates a filter, rejecting patterns that are blank, a bare `!`, or contain whitespace or `/`.
    ///
    /// - Throws: `SluiceError.invalidInput` naming the first bad pattern (for the connector API).
    public static func validated(_ patterns: [String]) throws(SluiceError) -> ConnectorFilter {
        for raw in patterns {
            let pattern = raw.trimmingASCIIWhitespace()
            let body = pattern.hasPrefix("!") ? String(pattern.dropFirst()) : pattern
            if body.isEmpty {
                throw .invalidInput(
                    "Connector filter '\(raw)' is empty; write a name pattern such as 'numpy*' or '!evil-*'.")
            }
            if body.utf8.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == 0x2F || $0 == 0x21 }) {
                throw .invalidInput(
                    "Connector filter '\(raw)' may not contain spaces, '/' or a '!' after the first character.")
            }
        }
        return ConnectorFilter(patterns)
    }

    /// Whether the filter has no patterns, so it allows every package.
    public var allowsEverything: Bool { allowPatterns.isEmpty && blockPatterns.isEmpty }

    /// Whether the package called `packageName` passes this filter (see the type's documentation for the rules).
    public func allows(packageName: String) -> Bool {
        if allowsEverything { return true }
        let name = Array(packageName.utf8)
        for pattern in blockPatterns where pattern.matches(name) { return false }
        if allowPatterns.isEmpty { return true }
        for pattern in allowPatterns where pattern.matches(name) { return true }
        return false
    }

    public var description: String { patterns.isEmpty ? "(all packages)" : patterns.joined(separator: ", ") }

    public static func == (lhs: ConnectorFilter, rhs: ConnectorFilter) -> Bool { lhs.patterns == rhs.patterns }
    public func hash(into hasher: inout Hasher) { hasher.combine(patterns) }
}

/// One compiled wildcard pattern over UTF-8 bytes (`*` any run, `?` one character, ASCII case-insensitive).
struct NamePattern: Sendable {
    private enum Kind: Sendable {
        case everything
        case exact
        case wildcard
    }

    private let bytes: [UInt8]
    private let kind: Kind

    init(_ pattern: String) {
        bytes = pattern.utf8.map(asciiLowercased)
        if bytes.allSatisfy({ $0 == UInt8(ascii: "*") }) {
            kind = .everything
        } else if bytes.contains(UInt8(ascii: "*")) || bytes.contains(UInt8(ascii: "?")) {
            kind = .wildcard
        } else {
            kind = .exact
        }
    }

    func matches(_ name: [UInt8]) -> Bool {
        switch kind {
        case .everything:
            return true
        case .exact:
            guard name.count == bytes.count else { return false }
            for index in 0..<name.count where asciiLowercased(name[index]) != bytes[index] { return false }
            return true
        case .wildcard:
            return wildcardMatch(name)
        }
    }

    /// Iterative glob matching with single-star backtracking: linear in practice, never exponential.
    private func wildcardMatch(_ name: [UInt8]) -> Bool {
        let star = UInt8(ascii: "*")
        let question = UInt8(ascii: "?")
        var p = 0
        var n = 0
        var starAt = -1
        var resumeAt = 0
        while n < name.count {
            // `?` matches one whole character: skip a full UTF-8 sequence.
            if p < bytes.count && bytes[p] == question {
                p += 1
                n = nextCharacterStart(name, after: n)
            } else if p < bytes.count && bytes[p] == star {
                starAt = p
                resumeAt = n
                p += 1
            } else if p < bytes.count && bytes[p] == asciiLowercased(name[n]) {
                p += 1
                n += 1
            } else if starAt >= 0 {
                p = starAt + 1
                resumeAt = nextCharacterStart(name, after: resumeAt)
                n = resumeAt
            } else {
                return false
            }
        }
        while p < bytes.count && bytes[p] == star { p += 1 }
        return p == bytes.count
    }

    private func nextCharacterStart(_ name: [UInt8], after index: Int) -> Int {
        var next = index + 1
        while next < name.count && name[next] & 0xC0 == 0x80 { next += 1 }
        return next
    }
}

@inline(__always)
private func asciiLowercased(_ byte: UInt8) -> UInt8 {
    (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
}

extension String {
    fileprivate func trimmingASCIIWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" || first == "\n" || first == "\r" {
            slice = slice.dropFirst()
        }
        while let last = slice.last, last == " " || last == "\t" || last == "\n" || last == "\r" {
            slice = slice.dropLast()
        }
        return String(slice)
    }
}
