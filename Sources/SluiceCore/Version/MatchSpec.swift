import Foundation

/// A conda match spec as it appears in a record's `depends` (`conda.models.match_spec.MatchSpec`, the parts a
/// channel server needs).
///
/// Accepted forms: `name`, `name version`, `name version build`, `name=version=build`, `name>=1.0,<2`, `name 1.0.*`,
/// `name ==1.0`, `channel::name …` (the channel is ignored), and a trailing `[key=value, …]` section with `version`,
/// `build` and `build_number`. Comments (`# …`) and `if …` conditions are dropped.
///
/// Version translation follows conda's `_sanitize_version_str`: `name=1.2` (one `=`, no build) becomes the prefix
/// match `1.2*`; `name==1.2` becomes the exact `1.2`; a bare `name 1.2` is the exact `==1.2`; see ``VersionSpec``.
/// A build string may contain `*` (glob) or be a `^…$` regular expression.
public struct MatchSpec: Sendable, Hashable, CustomStringConvertible {
    /// The package name (lowercased); `*` matches every name.
    public let name: String
    /// The version constraint, or nil for any version.
    public let version: VersionSpec?
    /// The build string pattern, or nil for any build.
    public let build: String?
    /// The build-number constraint, or nil for any build number.
    public let buildNumber: VersionSpec?
    /// The spec as written.
    public let spec: String

    public var description: String { spec }

    /// Parses a match spec.
    /// - Throws: `SluiceError.invalidInput` when there is no package name, the name has characters conda rejects,
    ///   or the version/build part is invalid.
    public init(_ string: String) throws(SluiceError) {
        spec = string
        func invalid(_ reason: String) -> SluiceError {
            .invalidInput("Invalid match spec '\(string)': \(reason).")
        }
        var text = string
        if let hash = text.firstIndex(of: "#") { text = String(text[..<hash]) }
        if let range = text.range(of: " if ") { text = String(text[..<range.lowerBound]) }
        text = text.trimmingCharacters(in: .whitespaces)

        // Brackets section.
        var brackets: [String: String] = [:]
        if let open = text.firstIndex(of: "["), text.hasSuffix("]") {
            let inner = text[text.index(after: open)..<text.index(before: text.endIndex)]
            brackets = try Self.parseBrackets(String(inner), invalid: invalid)
            text = String(text[..<open]).trimmingCharacters(in: .whitespaces)
        } else if text.contains("[") {
            throw invalid("unbalanced '['")
        }

        // Channel and namespace (`channel::name`, `channel/subdir::name`).
        if let separator = text.range(of: ":", options: .backwards) {
            text = String(text[separator.upperBound...])
        }

        // Name, then the rest.
        let nameEnd = text.firstIndex(where: { " =<>!~".contains($0) }) ?? text.endIndex
        let rawName = String(text[..<nameEnd])
        guard !rawName.isEmpty else { throw invalid("no package name found") }
        let lowered = rawName.lowercased()
        guard
            lowered.utf8.allSatisfy({
                (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
                    || $0 == 0x2A
            })
        else {
            throw invalid("package name contains invalid characters")
        }
        name = lowered
        let rest = String(text[nameEnd...]).trimmingCharacters(in: .whitespaces)

        var versionText: String?
        var buildText: String?
        if !rest.isEmpty {
            let (version, build) = Self.splitVersionAndBuild(rest)
            versionText = Self.sanitizeVersion(version, build: build)
            buildText = build
        }
        if let value = brackets["version"] {
            versionText = Self.sanitizeVersion(value, build: brackets["build"])
        }
        if let value = brackets["build"] { buildText = value }

        if let versionText, !versionText.isEmpty {
            version = try VersionSpec(versionText)
        } else {
            version = nil
        }
        if let buildText, !buildText.isEmpty, buildText != "*" {
            build = buildText
        } else {
            build = nil
        }
        if let value = brackets["build_number"] {
            buildNumber = try VersionSpec(value)
        } else {
            buildNumber = nil
        }
    }

    /// Whether `record` satisfies the spec: name, version, build string and build number.
    public func matches(_ record: PackageRecord) -> Bool {
        if name != "*" {
            if name.contains("*") {
                guard VersionSpec.globMatch(pattern: Array(name.utf8), text: Array(record.name.utf8)) else {
                    return false
                }
            } else if record.name != name {
                return false
            }
        }
        if let version, !version.matches(record.version) { return false }
        if let build, !Self.matchBuild(build, record.build) { return false }
        if let buildNumber, !buildNumber.matches(String(record.buildNumber)) { return false }
        return true
    }

    static func matchBuild(_ pattern: String, _ build: String) -> Bool {
        if pattern.hasPrefix("^"), pattern.hasSuffix("$") {
            return VersionSpec.regexMatch(pattern, build)
        }
        if pattern.contains("*") {
            return VersionSpec.globMatch(pattern: Array(pattern.utf8), text: Array(build.utf8))
        }
        return pattern == build
    }

    /// Splits `">=1.0 , < 2.0 py34_0"` into (`>=1.0,<2.0`, `py34_0`), as conda's `_parse_version_plus_build`: the
    /// build is what follows the first space or `=` that is not preceded by an operator character and after which no
    /// `-=,|<>~` appears. Spaces are removed from the version.
    static func splitVersionAndBuild(_ text: String) -> (version: String, build: String?) {
        let characters = Array(text)
        let notBefore: Set<Character> = ["=", "!", "|", ",", "<", ">", "~"]
        let notInBuild: Set<Character> = ["-", "=", ",", "|", "<", ">", "~"]
        // suffixClean[i] is true when characters[i...] contains none of notInBuild.
        var suffixClean = [Bool](repeating: true, count: characters.count + 1)
        if !characters.isEmpty {
            for index in stride(from: characters.count - 1, through: 0, by: -1) {
                suffixClean[index] = suffixClean[index + 1] && !notInBuild.contains(characters[index])
            }
        }
        var index = 1
        while index < characters.count - 1 {
            let character = characters[index]
            if character == " " || character == "=", !notBefore.contains(characters[index - 1]),
                suffixClean[index + 1]
            {
                let version = String(characters[..<index]).replacingOccurrences(of: " ", with: "")
                let build = String(characters[(index + 1)...]).trimmingCharacters(in: .whitespaces)
                return (version, build)
            }
            index += 1
        }
        return (text.replacingOccurrences(of: " ", with: ""), nil)
    }

    /// conda's `_sanitize_version_str`: `=1.2` → `1.2*` (without a build), `==1.2` → `1.2` (without a build).
    static func sanitizeVersion(_ version: String, build: String?) -> String {
        if version == "==" || version == "=" { return version }
        guard version.hasPrefix("=") else { return version }
        let withoutEquals = String(version.drop(while: { $0 == "=" }))
        if version.hasPrefix("=="), build == nil { return withoutEquals }
        if !withoutEquals.contains(where: { "=,|".contains($0) }) {
            if build == nil, !withoutEquals.hasSuffix("*") { return withoutEquals + "*" }
            return withoutEquals
        }
        return version
    }

    /// Parses `key=value, key='value', key="value"` inside brackets.
    static func parseBrackets(
        _ text: String, invalid: (String) -> SluiceError
    ) throws(SluiceError) -> [String: String] {
        var result: [String: String] = [:]
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            while index < characters.count, characters[index] == " " || characters[index] == "," { index += 1 }
            guard index < characters.count else { break }
            var keyEnd = index
            while keyEnd < characters.count, characters[keyEnd] != "=" { keyEnd += 1 }
            guard keyEnd < characters.count else { throw invalid("key-value mismatch in brackets") }
            let key = String(characters[index..<keyEnd]).trimmingCharacters(in: .whitespaces)
            var valueStart = keyEnd + 1
            var value: String
            if valueStart < characters.count, characters[valueStart] == "'" || characters[valueStart] == "\"" {
                let quote = characters[valueStart]
                valueStart += 1
                var valueEnd = valueStart
                while valueEnd < characters.count, characters[valueEnd] != quote { valueEnd += 1 }
                guard valueEnd < characters.count else { throw invalid("unterminated quote in brackets") }
                value = String(characters[valueStart..<valueEnd])
                index = valueEnd + 1
            } else {
                var valueEnd = valueStart
                while valueEnd < characters.count, characters[valueEnd] != ",", characters[valueEnd] != " " {
                    valueEnd += 1
                }
                value = String(characters[valueStart..<valueEnd])
                index = valueEnd
            }
            value = value.trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, !value.isEmpty else { throw invalid("key-value mismatch in brackets") }
            result[key] = value
        }
        return result
    }
}
