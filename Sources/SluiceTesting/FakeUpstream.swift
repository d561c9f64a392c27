import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore
import SluiceCore
import Synchronization

/// A fake upstream conda channel for tests: a real Hummingbird HTTP server on `127.0.0.1`, on a free port, that serves
/// a directory (by default the fixtures' `channels/conda-format-repo`) and can be scripted to fail.
///
/// - Serves `GET` and `HEAD` for every file under ``root`` with a strong `ETag` (from the bytes), `Last-Modified`
///   and `Content-Length`, and answers `304` to a matching `If-None-Match` (or, without one, to an
///   `If-Modified-Since` not older than the file).
/// - With `generateZstd`, a missing `<file>.zst` is served as the zstd compression of `<file>` (the fixture channel
///   has no `repodata.json.zst`; a real upstream such as conda-forge has one).
/// - ``setFile(_:contents:)`` replaces or adds a file in memory (its ETag and Last-Modified change with it).
/// - ``script(_:faults:times:)`` makes a path fail: a status (404, 500, …), a delay before answering, a connection
///   cut mid-body, wrong bytes of the right length, a different ETag, or a stall mid-body.
/// - ``requestCount(_:)`` tells how many requests reached a path (thread-safe, counted on arrival).
///
/// ```swift
/// let upstream = try await FakeUpstream.start()
/// defer { Task { await upstream.stop() } }
/// upstream.script("linux-64/repodata.json.zst", fault: .status(404))
/// // ... point a client at upstream.baseURL ...
/// #expect(upstream.requestCount("linux-64/repodata.json") == 1)
/// await upstream.stop()
/// ```
public final class FakeUpstream: Sendable {
    /// A scripted misbehaviour for one path.
    public enum Fault: Sendable, Hashable {
        /// Answer with this status and an empty body instead of the file (404 for a missing optional file, 500 …).
        case status(Int)
        /// Wait this long before answering (combine with a client timeout to test timeouts).
        case delay(Duration)
        /// Announce the full `Content-Length`, send only the first `bytes` bytes, then close the connection.
        case cutAfter(bytes: Int)
        /// Send bytes of the right length with one byte flipped in the middle (a corrupt or substituted file).
        case wrongBytes
        /// Report (and compare `If-None-Match` against) this ETag instead of the one derived from the bytes.
        case etag(String)
        /// Send the first `bytes` bytes, pause for `duration`, then send the rest (a stalled transfer).
        case stall(afterBytes: Int, duration: Duration)
    }

    /// One request as the fake upstream received it.
    public struct RecordedRequest: Sendable, Hashable {
        /// `GET` or `HEAD` (or whatever was sent).
        public var method: String
        /// The path without the leading `/` and without the query.
        public var path: String
        /// Header names in lowercase; repeated headers are joined with `, `.
        public var headers: [String: String]
    }

    /// The URL of the channel root, `http://127.0.0.1:<port>` (no trailing `/`).
    public let baseURL: String
    /// The port the server listens on.
    public let port: Int
    /// The directory served.
    public let root: URL

    private let state: FakeUpstreamState
    private let serverTask: Task<Void, any Error>

    private init(baseURL: String, port: Int, root: URL, state: FakeUpstreamState, serverTask: Task<Void, any Error>) {
        self.baseURL = baseURL
        self.port = port
        self.root = root
        self.state = state
        self.serverTask = serverTask
    }

    deinit {
        serverTask.cancel()
    }

    /// Starts a fake upstream on `127.0.0.1` on a free port.
    ///
    /// - Parameters:
    ///   - root: the directory to serve (default: the fixtures' `channels/conda-format-repo`).
    ///   - generateZstd: serve a missing `<file>.zst` as the zstd compression of `<file>` (default true).
    /// - Throws: when the server cannot start.
    public static func start(
        root: URL = Fixtures.condaFormatRepo, generateZstd: Bool = true
    ) async throws
        -> FakeUpstream
    {
        let state = FakeUpstreamState(root: root, generateZstd: generateZstd)
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            try await state.respond(to: request)
        }
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "FakeUpstream")
        logger.logLevel = .critical
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger
        )
        let serverTask = Task<Void, any Error> {
            defer { portContinuation.finish() }
            try await app.runService(gracefulShutdownSignals: [])
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            serverTask.cancel()
            _ = try await serverTask.value
            throw SluiceError(.internalError, "The fake upstream server did not start.")
        }
        return FakeUpstream(
            baseURL: "http://127.0.0.1:\(port)", port: port, root: root, state: state, serverTask: serverTask)
    }

    /// Stops the server (in-flight requests are cancelled).
    public func stop() async {
        serverTask.cancel()
        _ = try? await serverTask.value
    }

    /// The URL of `path` under the channel root.
    public func url(_ path: String) -> String { baseURL + "/" + FakeUpstreamState.normalize(path) }

    /// How many requests (any method) reached `path` (e.g. `"linux-64/repodata.json"`) since start or the last
    /// ``resetCounts()``.
    public func requestCount(_ path: String) -> Int {
        state.locked { $0.counts[FakeUpstreamState.normalize(path), default: 0] }
    }

    /// The same as ``requestCount(_:)``, with the argument label the proxy tests read best with.
    public func requestCount(path: String) -> Int { requestCount(path) }

    /// How many requests reached the server in all.
    public var totalRequestCount: Int { state.locked { $0.counts.values.reduce(0, +) } }

    /// Every request received so far, in order of arrival.
    public var requests: [RecordedRequest] { state.locked { $0.requests } }

    /// The last request to `path`, if any.
    public func lastRequest(_ path: String) -> RecordedRequest? {
        let normalized = FakeUpstreamState.normalize(path)
        return state.locked { $0.requests.last { $0.path == normalized } }
    }

    /// Forgets the request counts and recorded requests.
    public func resetCounts() {
        state.locked {
            $0.counts = [:]
            $0.requests = []
        }
    }

    /// Scripts `path` to misbehave with `faults` (applied together: delay, then status or ETag, then body faults),
    /// for the next `times` requests, or for every request when `times` is nil. An empty list clears the script.
    public func script(_ path: String, faults: [Fault], times: Int? = nil) {
        let normalized = FakeUpstreamState.normalize(path)
        state.locked {
            $0.scripts[normalized] = faults.isEmpty ? nil : Script(faults: faults, remaining: times)
        }
    }

    /// Scripts `path` with one fault (see ``script(_:faults:times:)``); `nil` clears it.
    public func script(_ path: String, fault: Fault?, times: Int? = nil) {
        script(path, faults: fault.map { [$0] } ?? [], times: times)
    }

    /// The same as ``script(_:fault:times:)`` with a `path:` label.
    public func script(path: String, fault: Fault?, times: Int? = nil) {
        script(path, fault: fault, times: times)
    }

    /// Removes every script.
    public func clearScripts() {
        state.locked { $0.scripts = [:] }
    }

    /// Serves `contents` at `path` instead of (or in addition to) the file on disk; `nil` goes back to the disk.
    /// The ETag follows the bytes and Last-Modified becomes now, as when an upstream publishes a new file.
    public func setFile(_ path: String, contents: Data?) {
        let normalized = FakeUpstreamState.normalize(path)
        let now = Date()
        state.locked {
            $0.overlays[normalized] = contents.map { Overlay(data: $0, lastModified: now) }
        }
    }
}

/// A scripted fault list and how many more requests it applies to.
struct Script: Sendable {
    var faults: [FakeUpstream.Fault]
    var remaining: Int?
}

/// A file held in memory instead of on disk.
struct Overlay: Sendable {
    var data: Data
    var lastModified: Date
}

/// The mutable part of a fake upstream, shared with its request handler.
final class FakeUpstreamState: Sendable {
    struct Contents {
        var counts: [String: Int] = [:]
        var requests: [FakeUpstream.RecordedRequest] = []
        var scripts: [String: Script] = [:]
        var overlays: [String: Overlay] = [:]
        /// Generated `.zst` bytes, keyed by path, valid for the source ETag stored beside them.
        var generated: [String: (sourceETag: String, data: Data)] = [:]
    }

    let root: URL
    let generateZstd: Bool
    private let contents = Mutex(Contents())

    init(root: URL, generateZstd: Bool) {
        self.root = root
        self.generateZstd = generateZstd
    }

    func locked<T>(_ body: (inout Contents) -> T) -> T {
        contents.withLock { body(&$0) }
    }

    static func normalize(_ path: String) -> String {
        var result = Substring(path)
        if let query = result.firstIndex(of: "?") { result = result[..<query] }
        while result.hasPrefix("/") { result = result.dropFirst() }
        return String(result)
    }

    /// A file to serve: bytes, validators.
    struct Resource {
        var data: Data
        var etag: String
        var lastModified: Date
    }

    func respond(to request: Request) async throws -> Response {
        let path = Self.normalize(request.uri.path.removingPercentEncoding ?? request.uri.path)
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        let method = request.method.rawValue
        let faults: [FakeUpstream.Fault] = locked { state in
            state.counts[path, default: 0] += 1
            state.requests.append(.init(method: method, path: path, headers: headers))
            guard var script = state.scripts[path] else { return [] }
            if let remaining = script.remaining {
                script.remaining = remaining - 1
                state.scripts[path] = remaining - 1 > 0 ? script : nil
            }
            return script.faults
        }

        for fault in faults {
            if case .delay(let duration) = fault { try await Task.sleep(for: duration) }
        }
        for fault in faults {
            if case .status(let code) = fault {
                return Response(status: .init(code: code), headers: [.contentLength: "0"])
            }
        }
        guard request.method == .get || request.method == .head else {
            return Response(status: .methodNotAllowed)
        }
        guard var resource = resource(at: path) else {
            return Response(status: .notFound, headers: [.contentLength: "0"])
        }
        for fault in faults {
            if case .etag(let etag) = fault { resource.etag = etag }
        }

        var responseHeaders = HTTPFields()
        responseHeaders[.eTag] = resource.etag
        responseHeaders[.lastModified] = Self.httpDate(resource.lastModified)
        responseHeaders[.contentType] =
            path.hasSuffix(".json")
            ? "application/json" : path.hasSuffix(".zst") ? "application/zstd" : "application/octet-stream"
        if isNotModified(request: request, resource: resource) {
            return Response(status: .notModified, headers: responseHeaders)
        }
        if request.method == .head {
            responseHeaders[.contentLength] = String(resource.data.count)
            return Response(status: .ok, headers: responseHeaders)
        }

        var data = resource.data
        if faults.contains(.wrongBytes), !data.isEmpty {
            let middle = data.startIndex + data.count / 2
            data[middle] ^= 0xFF
        }
        let body = ByteBuffer(bytes: data)
        for fault in faults {
            switch fault {
            case .cutAfter(let count):
                let cut = max(0, min(count, body.readableBytes - 1))
                let head = body.getSlice(at: body.readerIndex, length: cut) ?? ByteBuffer()
                return Response(
                    status: .ok, headers: responseHeaders,
                    body: ResponseBody(contentLength: body.readableBytes) { writer in
                        if head.readableBytes > 0 { try await writer.write(head) }
                        throw ConnectionCut()
                    })
            case .stall(let count, let duration):
                let split = max(0, min(count, body.readableBytes))
                let head = body.getSlice(at: body.readerIndex, length: split) ?? ByteBuffer()
                let tail =
                    body.getSlice(at: body.readerIndex + split, length: body.readableBytes - split) ?? ByteBuffer()
                return Response(
                    status: .ok, headers: responseHeaders,
                    body: ResponseBody(contentLength: body.readableBytes) { writer in
                        if head.readableBytes > 0 { try await writer.write(head) }
                        try await Task.sleep(for: duration)
                        if tail.readableBytes > 0 { try await writer.write(tail) }
                        try await writer.finish(nil)
                    })
            default:
                continue
            }
        }
        return Response(status: .ok, headers: responseHeaders, body: ResponseBody(byteBuffer: body))
    }

    private struct ConnectionCut: Error {}

    private func isNotModified(request: Request, resource: Resource) -> Bool {
        if let ifNoneMatch = request.headers[.ifNoneMatch] {
            let wanted = Self.strippingWeak(resource.etag)
            return ifNoneMatch.split(separator: ",").contains { candidate in
                let tag = candidate.trimmingCharacters(in: .whitespaces)
                return tag == "*" || Self.strippingWeak(tag) == wanted
            }
        }
        if let ifModifiedSince = request.headers[.ifModifiedSince], let since = Self.parseHTTPDate(ifModifiedSince) {
            return floor(resource.lastModified.timeIntervalSince1970) <= since.timeIntervalSince1970
        }
        return false
    }

    private static func strippingWeak(_ tag: String) -> String {
        tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag
    }

    /// The bytes and validators for `path`: an overlay, a file under the root, or a generated `.zst`.
    func resource(at path: String) -> Resource? {
        guard !path.isEmpty, !path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
            return nil
        }
        if let overlay = locked({ $0.overlays[path] }) {
            return Resource(data: overlay.data, etag: Self.etag(of: overlay.data), lastModified: overlay.lastModified)
        }
        let file = root.appendingPathComponent(path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let data = try? Data(contentsOf: file)
        {
            let modified =
                (try? FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date) ?? Date()
            return Resource(data: data, etag: Self.etag(of: data), lastModified: modified)
        }
        if generateZstd, path.hasSuffix(".zst"), let source = resource(at: String(path.dropLast(4))) {
            if let cached = locked({ $0.generated[path] }), cached.sourceETag == source.etag {
                return Resource(data: cached.data, etag: Self.etag(of: cached.data), lastModified: source.lastModified)
            }
            guard let compressed = try? Zstd.compress(source.data, level: 3) else { return nil }
            locked { $0.generated[path] = (source.etag, compressed) }
            return Resource(data: compressed, etag: Self.etag(of: compressed), lastModified: source.lastModified)
        }
        return nil
    }

    static func etag(of data: Data) -> String {
        let digest = SHA256.hash(data: data)
        return "\"" + digest.prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
    }

    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }

    static func parseHTTPDate(_ string: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: string)
    }
}
