import Foundation

/// Evaluation of conditional request headers (RFC 9110 §13) for one representation with a strong ETag and a
/// modification date.
public enum HTTPConditional {
    /// What a conditional GET or HEAD should answer.
    public enum Outcome: Hashable, Sendable {
        /// Send the representation (200, or 206 when a range applies).
        case send
        /// Answer 304 Not Modified.
        case notModified
    }

    /// Evaluates `If-None-Match` and, only when that header is absent, `If-Modified-Since` for a GET or HEAD.
    ///
    /// `If-None-Match` uses the weak comparison (a `W/` tag matches the strong tag with the same opaque value) and
    /// `*` matches any existing representation. `If-Modified-Since` answers 304 when the representation has not
    /// changed since that date (compared in whole seconds); an unparsable date is ignored.
    public static func evaluate(
        ifNoneMatch: String?, ifModifiedSince: String?, etag: String, lastModified: Date
    ) -> Outcome {
        if let ifNoneMatch {
            return noneMatch(ifNoneMatch, etag: etag) ? .send : .notModified
        }
        if let ifModifiedSince, let since = HTTPDate.parse(ifModifiedSince) {
            let modified = lastModified.timeIntervalSince1970.rounded(.down)
            return modified <= since.timeIntervalSince1970 ? .notModified : .send
        }
        return .send
    }

    /// Whether an `If-None-Match` list is satisfied, that is, no listed tag matches `etag` (weak comparison).
    public static func noneMatch(_ header: String, etag: String) -> Bool {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        if trimmed == "*" { return false }
        let ours = EntityTag(etag)
        for tag in EntityTag.parseList(header) where tag.opaque == ours?.opaque {
            return false
        }
        return true
    }

    /// Whether an `If-Range` value still describes the representation, so the `Range` header applies.
    ///
    /// An entity tag must match strongly (a weak tag never matches); a date must equal the last modification
    /// date exactly, in whole seconds. Anything else means "send the whole representation".
    public static func ifRangeMatches(_ header: String, etag: String, lastModified: Date) -> Bool {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("\"") || trimmed.hasPrefix("W/") {
            guard let theirs = EntityTag(trimmed), !theirs.isWeak, let ours = EntityTag(etag) else { return false }
            return theirs.opaque == ours.opaque
        }
        guard let date = HTTPDate.parse(trimmed) else { return false }
        return date.timeIntervalSince1970 == lastModified.timeIntervalSince1970.rounded(.down)
    }
}

/// An entity tag: `"opaque"` (strong) or `W/"opaque"` (weak).
public struct EntityTag: Hashable, Sendable {
    /// The tag between the quotes.
    public var opaque: String
    /// Whether the tag had the `W/` prefix.
    public var isWeak: Bool

    /// Parses one entity tag; nil when it is not a quoted tag.
    public init?(_ text: some StringProtocol) {
        var text = Substring(text).drop(while: { $0 == " " || $0 == "\t" })
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        isWeak = text.hasPrefix("W/")
        if isWeak { text = text.dropFirst(2) }
        guard text.count >= 2, text.first == "\"", text.last == "\"" else { return nil }
        opaque = String(text.dropFirst().dropLast())
        guard !opaque.contains("\"") else { return nil }
    }

    /// The tags of a comma-separated list (`If-None-Match`); malformed members are skipped.
    public static func parseList(_ header: String) -> [EntityTag] {
        // Tags cannot contain `"`, and commas only appear between tags or inside quoted opaque values.
        var tags: [EntityTag] = []
        var current = ""
        var inQuotes = false
        for character in header {
            if character == "\"" { inQuotes.toggle() }
            if character == "," && !inQuotes {
                if let tag = EntityTag(current) { tags.append(tag) }
                current = ""
            } else {
                current.append(character)
            }
        }
        if let tag = EntityTag(current) { tags.append(tag) }
        return tags
    }
}
