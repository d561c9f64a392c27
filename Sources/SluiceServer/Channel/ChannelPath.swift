import SluiceCore

/// A request path under `/conda/`, normalised and split into token, feed and target.
///
/// Normalisation happens before routing because clients send `./` (libmamba asks for `/./shards/`), `..` and
/// doubled slashes: each segment is percent-decoded, empty and `.` segments are dropped, and `..` removes the
/// segment before it. A `..` that would climb into or above the feed segment makes the whole path invalid, so a
/// request can never name a file outside its feed.
///
/// Accepted prefixes: `/conda/<feed>/…`, `/conda/t/<token>/<feed>/…` and `/t/<token>/conda/<feed>/…`.
public struct ChannelPath: Hashable, Sendable {
    /// What the path names inside the feed.
    public enum Target: Hashable, Sendable {
        /// `/conda/<feed>/` itself.
        case feedRoot
        /// `/conda/<feed>/channeldata.json`.
        case channeldata
        /// `/conda/<feed>/<subdir>/<file>`; `file` may contain `/` (e.g. `shards/<hex>.msgpack.zst`).
        case subdirFile(subdir: String, file: String)
        /// Any other path inside the feed (for example `/conda/<feed>/label/x/…` or `/conda/<feed>/notices.json`).
        case other(String)
    }

    /// The conda token from a `/t/<token>/` segment, if the path had one.
    public var token: String?
    /// The feed name (not validated here; an unknown feed becomes a 404 later).
    public var feed: String
    /// What the path names inside the feed.
    public var target: Target

    /// Creates a parsed path (normally made by ``parse(_:)``).
    public init(token: String?, feed: String, target: Target) {
        self.token = token
        self.feed = feed
        self.target = target
    }

    /// Normalises and parses a raw (percent-encoded) request path.
    ///
    /// - Throws: `SluiceError.notFound` when the path is not under `/conda/<feed>/`, would leave its feed through
    ///   `..`, or contains a malformed percent escape, an encoded `/` or a NUL byte.
    public static func parse(_ rawPath: String) throws(SluiceError) -> ChannelPath {
        var stack: [String] = []
        // The smallest depth the stack was reduced to by a `..`; a path whose `..` reaches into the
        // token/conda/feed prefix is refused once the prefix length is known.
        var lowestDepthAfterPop = Int.max
        for rawSegment in rawPath.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            guard let segment = percentDecode(rawSegment) else {
                throw .notFound("The path '\(redacted(rawPath))' is not a valid channel path.")
            }
            switch segment {
            case "", ".":
                continue
            case "..":
                guard !stack.isEmpty else {
                    throw .notFound("The path '\(redacted(rawPath))' leaves the channel.")
                }
                stack.removeLast()
                lowestDepthAfterPop = min(lowestDepthAfterPop, stack.count)
            default:
                stack.append(segment)
            }
        }

        let token: String?
        let feedIndex: Int
        if stack.count >= 2, stack[0] == "conda", stack[1] != "t" {
            token = nil
            feedIndex = 1
        } else if stack.count >= 4, stack[0] == "conda", stack[1] == "t" {
            token = stack[2]
            feedIndex = 3
        } else if stack.count >= 4, stack[0] == "t", stack[2] == "conda" {
            token = stack[1]
            feedIndex = 3
        } else {
            throw .notFound(
                "The path '\(redacted(rawPath))' does not name a feed; channel URLs look like "
                    + "/conda/<feed>/<subdir>/<file>.")
        }
        guard lowestDepthAfterPop > feedIndex else {
            throw .notFound("The path '\(redacted(rawPath))' leaves its feed.")
        }

        let feed = stack[feedIndex]
        let rest = stack[(feedIndex + 1)...]
        let target: Target
        if rest.isEmpty {
            target = .feedRoot
        } else if rest.count == 1, rest.first == "channeldata.json" {
            target = .channeldata
        } else if rest.count >= 2, let subdir = rest.first, ChannelNames.isSubdir(subdir) {
            target = .subdirFile(subdir: subdir, file: rest.dropFirst().joined(separator: "/"))
        } else {
            target = .other(rest.joined(separator: "/"))
        }
        return ChannelPath(token: token, feed: feed, target: target)
    }

    /// `path` with the segment after every `t` segment replaced by `***`, for messages and logs: a conda token
    /// (`/t/<key>/`) is a credential and never leaves the server in an answer.
    public static func redacted(_ path: String) -> String {
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for index in segments.indices.dropLast() where percentDecode(segments[index].utf8) == "t" {
            segments[index + 1] = "***"
        }
        return segments.joined(separator: "/")
    }

    /// Decodes `%XX` escapes of one path segment; nil when an escape is malformed, the result is not UTF-8, or it
    /// contains `/` or NUL (which a segment must never smuggle in).
    static func percentDecode(_ segment: some Collection<UInt8>) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(segment.count)
        var iterator = segment.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        guard !bytes.contains(0), !bytes.contains(UInt8(ascii: "/")) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
