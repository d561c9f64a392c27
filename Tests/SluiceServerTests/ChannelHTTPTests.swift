import Foundation
import SluiceCore
import Testing

@testable import SluiceServer

@Suite("Channel HTTP pieces")
struct ChannelHTTPTests {
    // MARK: Paths

    @Test(
        "Dot segments and doubled slashes are normalised",
        arguments: [
            ("/conda/f/noarch/repodata.json", "noarch", "repodata.json"),
            ("/conda/f/./noarch//repodata.json", "noarch", "repodata.json"),
            ("/conda/f/noarch/../noarch/repodata.json", "noarch", "repodata.json"),
            ("//conda//f///linux-64/./zlib-1.2.11-0.conda", "linux-64", "zlib-1.2.11-0.conda"),
            ("/conda/f/noarch/%2e/repodata.json", "noarch", "repodata.json"),
            ("/conda/f/noarch/./shards/abc.msgpack.zst", "noarch", "shards/abc.msgpack.zst"),
            ("/conda/f/osx-64/pkg-1.0%2Bcpu-0.conda", "osx-64", "pkg-1.0+cpu-0.conda"),
        ])
    func normalises(raw: String, subdir: String, file: String) throws {
        let path = try ChannelPath.parse(raw)
        #expect(path.feed == "f")
        #expect(path.token == nil)
        #expect(path.target == .subdirFile(subdir: subdir, file: file))
    }

    @Test(
        "Paths that leave the feed or are malformed are refused",
        arguments: [
            "/conda/f/../../etc/passwd", "/conda/f/../g/noarch/repodata.json", "/conda/f/noarch/../../x",
            "/conda/f/%2e%2e/%2e%2e/etc/passwd", "/conda/f/noarch/a%2Fb", "/conda/f/noarch/%zz", "/conda/f/%00",
            "/conda", "/conda/", "/conda/../etc/passwd", "/etc/passwd", "/t/abc/conda", "/conda/t/abc",
            "/conda/t/abc/f/..", "/t/abc/conda/f/../g/noarch/repodata.json",
        ])
    func refuses(raw: String) {
        #expect(throws: SluiceError.self) { try ChannelPath.parse(raw) }
        do {
            _ = try ChannelPath.parse(raw)
        } catch {
            #expect(error.code == .notFound)
        }
    }

    @Test("Token prefixes are stripped and kept")
    func tokens() throws {
        let inside = try ChannelPath.parse("/conda/t/ab-12/f/noarch/repodata.json")
        #expect(
            inside
                == ChannelPath(token: "ab-12", feed: "f", target: .subdirFile(subdir: "noarch", file: "repodata.json")))
        let outside = try ChannelPath.parse("/t/ab-12/conda/f/channeldata.json")
        #expect(outside == ChannelPath(token: "ab-12", feed: "f", target: .channeldata))
    }

    @Test("Targets other than subdir files are recognised")
    func targets() throws {
        #expect(try ChannelPath.parse("/conda/f").target == .feedRoot)
        #expect(try ChannelPath.parse("/conda/f/noarch/..").target == .feedRoot)
        #expect(try ChannelPath.parse("/conda/f/channeldata.json").target == .channeldata)
        #expect(try ChannelPath.parse("/conda/f/notices.json").target == .other("notices.json"))
        #expect(
            try ChannelPath.parse("/conda/f/label/dev/noarch/repodata.json").target
                == .other("label/dev/noarch/repodata.json"))
        #expect(try ChannelPath.parse("/conda/f/Linux-64/repodata.json").target == .other("Linux-64/repodata.json"))
    }

    // MARK: Dates

    @Test("HTTP dates format as IMF-fixdate and parse in all three forms")
    func dates() throws {
        let date = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example)
        #expect(HTTPDate.format(date) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == date)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == date)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == date)
        #expect(HTTPDate.parse("yesterday") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
        // Leap day, end of year, and fractions dropped.
        let leap = Date(timeIntervalSince1970: 951_825_600.75)  // 2000-02-29 12:00:00.75
        #expect(HTTPDate.format(leap) == "Tue, 29 Feb 2000 12:00:00 GMT")
        #expect(HTTPDate.parse(HTTPDate.format(leap)) == Date(timeIntervalSince1970: 951_825_600))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        for seconds in stride(from: 0, to: 4_000_000_000, by: 86_399 * 37) {
            let date = Date(timeIntervalSince1970: TimeInterval(seconds))
            #expect(HTTPDate.format(date) == formatter.string(from: date))
            #expect(HTTPDate.parse(HTTPDate.format(date)) == date)
        }
    }

    // MARK: Conditional requests

    @Test("If-None-Match: lists, wildcard and weak comparison")
    func ifNoneMatch() {
        let modified = Date(timeIntervalSince1970: 1_700_000_000)
        func outcome(_ header: String?, since: String? = nil) -> HTTPConditional.Outcome {
            HTTPConditional.evaluate(
                ifNoneMatch: header, ifModifiedSince: since, etag: "\"abc\"", lastModified: modified)
        }
        #expect(outcome("\"abc\"") == .notModified)
        #expect(outcome("W/\"abc\"") == .notModified)
        #expect(outcome("\"x\", \"abc\"") == .notModified)
        #expect(outcome("\"x\",W/\"abc\"") == .notModified)
        #expect(outcome("*") == .notModified)
        #expect(outcome("\"abcd\"") == .send)
        #expect(outcome("\"x\", \"y\"") == .send)
        #expect(outcome("abc") == .send)
        #expect(outcome(nil) == .send)
        // If-None-Match wins over If-Modified-Since.
        #expect(outcome("\"other\"", since: HTTPDate.format(modified)) == .send)
    }

    @Test("If-Modified-Since compares whole seconds and ignores bad dates")
    func ifModifiedSince() {
        let modified = Date(timeIntervalSince1970: 1_700_000_000.6)
        func outcome(_ since: Date) -> HTTPConditional.Outcome {
            HTTPConditional.evaluate(
                ifNoneMatch: nil, ifModifiedSince: HTTPDate.format(since), etag: "\"e\"", lastModified: modified)
        }
        #expect(outcome(Date(timeIntervalSince1970: 1_700_000_000)) == .notModified)
        #expect(outcome(Date(timeIntervalSince1970: 1_700_000_100)) == .notModified)
        #expect(outcome(Date(timeIntervalSince1970: 1_699_999_999)) == .send)
        #expect(
            HTTPConditional.evaluate(
                ifNoneMatch: nil, ifModifiedSince: "garbage", etag: "\"e\"", lastModified: modified)
                == .send)
    }

    @Test("If-Range needs a strong ETag match or the exact date")
    func ifRange() {
        let modified = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(HTTPConditional.ifRangeMatches("\"abc\"", etag: "\"abc\"", lastModified: modified))
        #expect(!HTTPConditional.ifRangeMatches("W/\"abc\"", etag: "\"abc\"", lastModified: modified))
        #expect(!HTTPConditional.ifRangeMatches("\"abd\"", etag: "\"abc\"", lastModified: modified))
        #expect(HTTPConditional.ifRangeMatches(HTTPDate.format(modified), etag: "\"abc\"", lastModified: modified))
        #expect(
            !HTTPConditional.ifRangeMatches(
                HTTPDate.format(modified.addingTimeInterval(1)), etag: "\"abc\"", lastModified: modified))
        #expect(!HTTPConditional.ifRangeMatches("soon", etag: "\"abc\"", lastModified: modified))
    }

    // MARK: Ranges

    @Test(
        "Byte ranges against a 100-byte file",
        arguments: [
            ("bytes=0-9", ByteRange.partial(0...9)),
            ("bytes=90-", .partial(90...99)),
            ("bytes=-10", .partial(90...99)),
            ("bytes=-1000", .partial(0...99)),
            ("bytes=-99999999999999999999999", .partial(0...99)),
            ("bytes=50-5000", .partial(50...99)),
            ("bytes=99-99", .partial(99...99)),
            ("BYTES = 1-2", .partial(1...2)),
            ("bytes=100-", .unsatisfiable),
            ("bytes=100-200", .unsatisfiable),
            ("bytes=-0", .unsatisfiable),
            ("bytes=0-1,5-6", .whole),
            ("bytes=", .whole),
            ("bytes=5-1", .unsatisfiable),
            ("bytes=-", .unsatisfiable),
            ("bytes=a-b", .unsatisfiable),
            ("items=0-1", .whole),
            ("bytes 0-1", .whole),
        ])
    func ranges(header: String, expected: ByteRange) {
        #expect(ByteRange.evaluate(header, size: 100) == expected)
    }

    @Test("Every range of an empty file is unsatisfiable")
    func emptyFileRanges() {
        #expect(ByteRange.evaluate("bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRange.evaluate("bytes=-5", size: 0) == .unsatisfiable)
    }

    // MARK: Accept-Encoding

    @Test(
        "gzip is used only when offered with q > 0",
        arguments: [
            ("gzip", true), ("gzip, deflate", true), ("deflate, gzip;q=0.5", true), ("x-gzip", true),
            ("GZIP", true), ("*", true), ("br;q=1, *;q=0.1", true), ("gzip;q=0", false), ("gzip; q=0.0", false),
            ("*, gzip;q=0", false), ("identity", false), ("deflate, br", false), ("*;q=0", false), ("", false),
        ])
    func acceptEncoding(header: String, expected: Bool) {
        #expect(AcceptEncoding.allowsGzip(header) == expected)
    }

    @Test("No Accept-Encoding header means no gzip")
    func noAcceptEncoding() {
        #expect(!AcceptEncoding.allowsGzip(nil))
    }

    @Test("The gzip ETag differs from the identity ETag and stays quoted")
    func gzipETag() {
        #expect(ServedFile.gzipETag(for: "\"abc\"") == "\"abc-gzip\"")
        #expect(EntityTag(ServedFile.gzipETag(for: "\"abc\"")) != nil)
    }
}
