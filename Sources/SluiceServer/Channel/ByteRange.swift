/// A `Range` request header (RFC 9110 §14.2) evaluated against a representation of known size.
///
/// Only single ranges are served as 206: `bytes=a-b`, `bytes=a-` and the suffix form `bytes=-n`, which selects the
/// **last** n bytes. A header with several ranges or another unit is ignored (the whole representation is sent with
/// 200, which RFC 9110 allows); a malformed single `bytes` range is answered like nginx answers it, with 416.
public enum ByteRange: Hashable, Sendable {
    /// Send the whole representation (no usable `Range` header).
    case whole
    /// Send these bytes (inclusive bounds) with 206 and `Content-Range: bytes a-b/size`.
    case partial(ClosedRange<Int64>)
    /// Answer 416 with `Content-Range: bytes */size`.
    case unsatisfiable

    /// Evaluates a `Range` header value against a representation of `size` bytes.
    public static func evaluate(_ header: String, size: Int64) -> ByteRange {
        let trimmed = header.trimmedOfSpaces()
        guard let equals = trimmed.firstIndex(of: "="),
            trimmed[..<equals].trimmedOfSpaces().lowercased() == "bytes"
        else { return .whole }
        let specs = trimmed[trimmed.index(after: equals)...].split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmedOfSpaces() }
        // Several ranges (or none, `bytes=`) are ignored, as nginx ignores an empty set.
        guard specs.count == 1, let spec = specs.first, !spec.isEmpty else { return .whole }
        guard let dash = spec.firstIndex(of: "-") else { return .unsatisfiable }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        guard first.allSatisfy({ $0.isASCIIDigitCharacter }), last.allSatisfy({ $0.isASCIIDigitCharacter }) else {
            return .unsatisfiable
        }

        if first.isEmpty {
            // Suffix range: the last n bytes.
            guard !last.isEmpty else { return .unsatisfiable }
            guard let count = Int64(last) else {
                // More digits than Int64 holds: asks for more than the whole file.
                return size > 0 ? .partial(0...(size - 1)) : .unsatisfiable
            }
            guard count > 0, size > 0 else { return .unsatisfiable }
            return .partial(max(0, size - count)...(size - 1))
        }
        guard let start = Int64(first) else { return .unsatisfiable }
        var end = size - 1
        if !last.isEmpty {
            if let requestedEnd = Int64(last) {
                guard requestedEnd >= start else { return .unsatisfiable }
                end = min(requestedEnd, size - 1)
            }
        }
        guard start < size else { return .unsatisfiable }
        return .partial(start...end)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    fileprivate func trimmedOfSpaces() -> String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view = view.dropFirst() }
        while view.last == " " || view.last == "\t" { view = view.dropLast() }
        return String(view)
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { ("0"..."9").contains(self) }
}
