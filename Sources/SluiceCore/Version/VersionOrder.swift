import Foundation

/// A conda version string, ordered exactly as conda orders versions (`conda.models.version.VersionOrder`).
///
/// Parsing, as conda does it:
/// - the string is trimmed and lowercased; it may contain only `[*.+!_0-9a-z]`; dashes are allowed (and become
///   underscores) only when the string has no underscore;
/// - an optional integer epoch precedes `!` (default 0); an optional local version follows `+`;
/// - the version and local parts are split into components at `.` and `_` (a single trailing `_` stays attached to
///   the last component, the openssl work-around `1.0.1_ < 1.0.1a`);
/// - each component is split into runs of digits, runs of `*` and runs of other characters; digit runs are
///   numbers, `post` is greater than every number, `dev` sorts below every other string, and a component that
///   starts with a letter gets a leading 0 (`1.1.a1 == 1.1.0a1`).
///
/// Comparison is lexicographic with missing parts treated as 0 (`1.0 == 1.0.0`); strings sort before numbers, so
/// `1.1dev1 < 1.1a1 < 1.1b1 < 1.1rc1 < 1.1 < 1.1post1`. The local version only breaks ties.
public struct VersionOrder: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// One piece of a version component.
    enum Part: Hashable, Sendable {
        /// A lowercase string; `dev` is stored as `DEV` so that it sorts before `_` and letters, as in conda.
        case string(String)
        /// A number that fits in `UInt64`.
        case number(UInt64)
        /// A larger number, as its digits without leading zeros.
        case bigNumber(String)
        /// `post`, greater than every number.
        case post

        static let zero = Part.number(0)

        /// conda's order: strings < numbers < post; strings compare by code point, numbers numerically.
        static func compare(_ lhs: Part, _ rhs: Part) -> Int {
            switch (lhs, rhs) {
            case (.string(let a), .string(let b)):
                if a == b { return 0 }
                return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
            case (.string, _): return -1
            case (_, .string): return 1
            case (.post, .post): return 0
            case (.post, _): return 1
            case (_, .post): return -1
            case (.number(let a), .number(let b)): return a == b ? 0 : (a < b ? -1 : 1)
            case (.number, .bigNumber): return -1
            case (.bigNumber, .number): return 1
            case (.bigNumber(let a), .bigNumber(let b)):
                if a.utf8.count != b.utf8.count { return a.utf8.count < b.utf8.count ? -1 : 1 }
                if a == b { return 0 }
                return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
            }
        }
    }

    /// The normalised version string (trimmed, lowercased, dashes turned into underscores when conda does so).
    public let normalized: String
    /// Epoch followed by the version components.
    let version: [[Part]]
    /// The local version components (after `+`), empty when there is none.
    let local: [[Part]]

    public var description: String { normalized }

    /// Parses a conda version string.
    /// - Throws: `SluiceError.invalidInput` when the string is empty, contains characters conda rejects, has a
    ///   non-integer epoch, a repeated `!` or `+`, an empty component (`1..2`), or a local part without a version.
    public init(_ string: String) throws(SluiceError) {
        func invalid(_ reason: String) -> SluiceError {
            .invalidInput("Invalid version '\(string)': \(reason).")
        }
        var bytes: [UInt8]
        if string.utf8.allSatisfy({ $0 < 0x80 }) {
            bytes = Array(string.utf8)
        } else {
            // Python's strip() and lower() are Unicode-aware; a result that is still not ASCII is rejected below.
            bytes = Array(string.trimmingCharacters(in: .whitespacesAndNewlines).lowercased().utf8)
        }
        // Trim ASCII whitespace and lowercase.
        var start = 0
        var end = bytes.count
        while start < end, Self.isSpace(bytes[start]) { start += 1 }
        while end > start, Self.isSpace(bytes[end - 1]) { end -= 1 }
        if start > 0 || end < bytes.count { bytes = Array(bytes[start..<end]) }
        guard !bytes.isEmpty else { throw invalid("empty version string") }
        var hasDash = false
        var hasUnderscore = false
        var valid = true
        for index in bytes.indices {
            let byte = bytes[index]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { bytes[index] = byte + 32 }
            switch bytes[index] {
            case UInt8(ascii: "-"):
                hasDash = true
                valid = false
            case UInt8(ascii: "_"):
                hasUnderscore = true
            case UInt8(ascii: "*"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "!"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"):
                break
            default:
                valid = false
            }
        }
        if !valid {
            // Dashes are allowed when there is no underscore: they become underscores.
            guard hasDash, !hasUnderscore else { throw invalid("invalid character(s)") }
            for index in bytes.indices where bytes[index] == UInt8(ascii: "-") { bytes[index] = UInt8(ascii: "_") }
            guard bytes.allSatisfy(Self.isAllowed) else { throw invalid("invalid character(s)") }
        }
        normalized = String(decoding: bytes, as: UTF8.self)

        // Epoch.
        let bangs = bytes.indices.filter { bytes[$0] == UInt8(ascii: "!") }
        guard bangs.count <= 1 else { throw invalid("duplicated epoch separator '!'") }
        var epoch: ArraySlice<UInt8> = [UInt8(ascii: "0")]
        var rest = bytes[...]
        if let bang = bangs.first {
            epoch = bytes[..<bang]
            guard !epoch.isEmpty, epoch.allSatisfy(Self.isDigit) else { throw invalid("epoch must be an integer") }
            rest = bytes[(bang + 1)...]
        }

        // Local version.
        let pluses = rest.indices.filter { rest[$0] == UInt8(ascii: "+") }
        guard pluses.count <= 1 else { throw invalid("duplicated local version separator '+'") }
        var main = rest
        var localPart: ArraySlice<UInt8>?
        if let plus = pluses.first {
            main = rest[..<plus]
            localPart = rest[(plus + 1)...]
        }
        guard !main.isEmpty else { throw invalid("missing version before local version separator '+'") }

        var versionComponents = [try Self.component(epoch, invalid: invalid)]
        if main.last == UInt8(ascii: "_") {
            // A trailing underscore stays attached to the last component (openssl work-around).
            var pieces = Self.splitComponents(main.dropLast())
            pieces[pieces.count - 1].append(UInt8(ascii: "_"))
            for piece in pieces { versionComponents.append(try Self.component(piece[...], invalid: invalid)) }
        } else {
            for piece in Self.splitComponents(main) {
                versionComponents.append(try Self.component(piece[...], invalid: invalid))
            }
        }
        version = versionComponents
        if let localPart {
            var localComponents: [[Part]] = []
            for piece in Self.splitComponents(localPart) {
                localComponents.append(try Self.component(piece[...], invalid: invalid))
            }
            local = localComponents
        } else {
            local = []
        }
    }

    @inline(__always)
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) || byte == 0x1C || byte == 0x1D || byte == 0x1E
            || byte == 0x1F
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "*"), UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "!"), UInt8(ascii: "_"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"):
            return true
        default:
            return false
        }
    }

    /// Splits at `.` and `_`, keeping empty pieces (which are then rejected).
    private static func splitComponents(_ bytes: ArraySlice<UInt8>) -> [[UInt8]] {
        var pieces: [[UInt8]] = [[]]
        for byte in bytes {
            if byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") {
                pieces.append([])
            } else {
                pieces[pieces.count - 1].append(byte)
            }
        }
        return pieces
    }

    /// Splits one component into runs of digits, of `*` and of other characters.
    private static func component(
        _ bytes: ArraySlice<UInt8>, invalid: (String) -> SluiceError
    ) throws(SluiceError) -> [Part] {
        guard let first = bytes.first else { throw invalid("empty version component") }
        var parts: [Part] = []
        if !isDigit(first) { parts.append(.zero) }
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let runStart = index
            let kind = runKind(bytes[index])
            if kind == 0 {
                var value: UInt64 = 0
                var overflow = false
                while index < bytes.endIndex, isDigit(bytes[index]) {
                    if !overflow {
                        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                        let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[index] - 0x30))
                        overflow = o1 || o2
                        value = sum
                    }
                    index += 1
                }
                if overflow {
                    let digits = bytes[runStart..<index].drop(while: { $0 == UInt8(ascii: "0") })
                    parts.append(.bigNumber(String(decoding: digits, as: UTF8.self)))
                } else {
                    parts.append(.number(value))
                }
                continue
            }
            while index < bytes.endIndex, runKind(bytes[index]) == kind { index += 1 }
            let run = bytes[runStart..<index]
            if kind == 2, run.elementsEqual("post".utf8) {
                parts.append(.post)
            } else if kind == 2, run.elementsEqual("dev".utf8) {
                parts.append(.string("DEV"))
            } else {
                parts.append(.string(String(decoding: run, as: UTF8.self)))
            }
        }
        return parts
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// 0 for digits, 1 for `*`, 2 for anything else (conda's `([0-9]+|[*]+|[^0-9*]+)`).
    @inline(__always)
    private static func runKind(_ byte: UInt8) -> Int {
        if isDigit(byte) { return 0 }
        if byte == UInt8(ascii: "*") { return 1 }
        return 2
    }

    // MARK: Comparison

    /// Compares two component lists, padding missing components with empty ones and missing parts with 0.
    static func compare(_ lhs: [[Part]], _ rhs: [[Part]]) -> Int {
        let count = max(lhs.count, rhs.count)
        for index in 0..<count {
            let left = index < lhs.count ? lhs[index] : []
            let right = index < rhs.count ? rhs[index] : []
            let partCount = max(left.count, right.count)
            for partIndex in 0..<partCount {
                let a = partIndex < left.count ? left[partIndex] : .zero
                let b = partIndex < right.count ? right[partIndex] : .zero
                let result = Part.compare(a, b)
                if result != 0 { return result }
            }
        }
        return 0
    }

    /// -1, 0 or 1 as `self` sorts before, equal to or after `other`.
    public func compare(to other: VersionOrder) -> Int {
        let result = Self.compare(version, other.version)
        if result != 0 { return result }
        return Self.compare(local, other.local)
    }

    public static func < (lhs: VersionOrder, rhs: VersionOrder) -> Bool {
        lhs.compare(to: rhs) < 0
    }

    /// Equality as conda defines it: `1.0 == 1.0.0`, case-insensitive.
    public static func == (lhs: VersionOrder, rhs: VersionOrder) -> Bool {
        lhs.compare(to: rhs) == 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(Self.trimmed(version))
        hasher.combine(Self.trimmed(local))
    }

    /// The components without trailing zeros and trailing empty components, so equal versions hash equally.
    private static func trimmed(_ components: [[Part]]) -> [[Part]] {
        var result = components.map { component -> [Part] in
            var parts = component
            while let last = parts.last, last == .zero { parts.removeLast() }
            return parts
        }
        while let last = result.last, last.isEmpty { result.removeLast() }
        return result
    }

    /// conda's `VersionOrder.startswith`: whether this version matches `prefix` up to `prefix`'s last part, where a
    /// final string part matches as a string prefix (`1.1alpha` starts with `1.1a`). Used by `=1.2`, `1.2.*`, `1.2*`.
    public func starts(with prefix: VersionOrder) -> Bool {
        let ownComponents: [[Part]]
        let prefixComponents: [[Part]]
        if !prefix.local.isEmpty {
            guard Self.compare(version, prefix.version) == 0 else { return false }
            ownComponents = local
            prefixComponents = prefix.local
        } else {
            ownComponents = version
            prefixComponents = prefix.version
        }
        let last = prefixComponents.count - 1
        guard last >= 0 else { return true }
        guard Self.compare(Array(ownComponents.prefix(last)), Array(prefixComponents.prefix(last))) == 0 else {
            return false
        }
        let own: [Part] = ownComponents.count <= last ? [] : ownComponents[last]
        let wanted = prefixComponents[last]
        let lastPart = wanted.count - 1
        guard lastPart >= 0 else { return true }
        guard Self.compare([Array(own.prefix(lastPart))], [Array(wanted.prefix(lastPart))]) == 0 else {
            return false
        }
        let ownPart: Part = own.count <= lastPart ? .zero : own[lastPart]
        let wantedPart = wanted[lastPart]
        if case .string(let wantedString) = wantedPart {
            if case .string(let ownString) = ownPart { return ownString.hasPrefix(wantedString) }
            return false
        }
        return Part.compare(ownPart, wantedPart) == 0
    }
}
