import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SluiceCore
import Synchronization

/// Talks to upstream conda channels over HTTP: fetches and revalidates repodata, parses it into records that keep
/// every download going through Sluice, and downloads package files with verification.
///
/// One client serves every connector; it holds no per-connector state except the memory of which subdirs have no
/// `repodata.json.zst`. Failure policy (circuit breaking, single-flight, stale-if-error) wraps the client; it is not
/// inside it. Errors:
/// - `SluiceError.upstreamUnavailable`: 5xx, refused or cut connections, garbage bodies, checksum mismatches;
/// - `SluiceError.upstreamTimeout`: no answer, or a body that stalls, for the channel's timeout;
/// - `SluiceError.notFound`: a package file the upstream does not have.
/// Messages name the upstream URL without credentials; credentials are never logged.
public final class UpstreamClient: Sendable {
    /// Limits of an upstream client.
    public struct Configuration: Sendable, Hashable {
        /// The largest decompressed repodata accepted, in bytes (default 1 GiB; conda-forge linux-64 was ~360 MB
        /// in 2026). Larger bodies are refused as `upstreamUnavailable` (zstd-bomb guard).
        public var maximumRepodataSize: Int
        /// How long to remember that a subdir has no `repodata.json.zst` before trying it again (default 1 day).
        public var zstdRecheckInterval: Duration
        /// The `User-Agent` sent upstream.
        public var userAgent: String

        public init(
            maximumRepodataSize: Int = 1 << 30,
            zstdRecheckInterval: Duration = .seconds(24 * 3600),
            userAgent: String = "sluice (conda channel proxy)"
        ) {
            self.maximumRepodataSize = maximumRepodataSize
            self.zstdRecheckInterval = zstdRecheckInterval
            self.userAgent = userAgent
        }
    }

    let httpClient: HTTPClient
    let logger: Logger
    public let configuration: Configuration
    /// `<baseURL>/<subdir>` → when the upstream last had no usable `repodata.json.zst`.
    private let zstdMissing = Mutex<[String: ContinuousClock.Instant]>([:])

    /// Creates a client over an existing HTTP client (whose lifetime the caller manages).
    public init(httpClient: HTTPClient, logger: Logger, configuration: Configuration = Configuration()) {
        self.httpClient = httpClient
        self.logger = logger
        self.configuration = configuration
    }

    // MARK: - zstd memory

    /// Whether `repodata.json.zst` of this subdir is known to be missing (and not yet due for a recheck).
    public func isZstdKnownMissing(channel: UpstreamChannel, subdir: String) -> Bool {
        let key = channel.baseURL + "/" + subdir
        return zstdMissing.withLock { missing in
            guard let since = missing[key] else { return false }
            if ContinuousClock.now - since >= configuration.zstdRecheckInterval {
                missing[key] = nil
                return false
            }
            return true
        }
    }

    func rememberZstdMissing(channel: UpstreamChannel, subdir: String) {
        let key = channel.baseURL + "/" + subdir
        zstdMissing.withLock { $0[key] = ContinuousClock.now }
    }

    // MARK: - HTTP plumbing

    /// What a GET produced before its body was read.
    enum Answer {
        case ok(HTTPClientResponse)
        case notModified(HTTPClientResponse)
        case status(HTTPResponseStatus)
    }

    /// Sends a GET for `url` (credentials as a header) and waits for the response head, within the channel timeout.
    ///
    /// Non-2xx/304 bodies are drained here, so callers get only a status for them.
    func get(
        _ url: String,
        channel: UpstreamChannel,
        headers extraHeaders: [(String, String)] = []
    ) async throws(SluiceError) -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        if let authorization = channel.authorizationHeader {
            request.headers.add(name: "Authorization", value: authorization)
        }
        for (name, value) in extraHeaders { request.headers.add(name: name, value: value) }
        let display = UpstreamChannel.redactingCredentials(in: url)
        logger.debug("upstream request", metadata: ["upstream.url": "\(display)"])
        let response: HTTPClientResponse
        do {
            response = try await httpClient.execute(request, timeout: .nanoseconds(channel.timeout.nanoseconds))
        } catch {
            throw Self.transportError(error, url: display, timeout: channel.timeout)
        }
        switch response.status.code {
        case 200..<300:
            return .ok(response)
        case 304:
            return .notModified(response)
        default:
            await Self.drain(response)
            return .status(response.status)
        }
    }

    /// Reads a whole body (at most `limit` bytes) with an idle timeout.
    func collect(
        _ response: HTTPClientResponse,
        limit: Int,
        url: String,
        timeout: Duration
    ) async throws(SluiceError) -> Data {
        let body = response.body
        do {
            return try await withIdleTimeout(timeout) { progress in
                var collected = Data()
                if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length <= limit {
                    collected.reserveCapacity(length)
                }
                for try await chunk in body {
                    progress.touch()
                    guard collected.count + chunk.readableBytes <= limit else {
                        throw SluiceError(
                            .upstreamUnavailable,
                            "\(url): the body is larger than the \(limit)-byte limit for repodata; refusing it.")
                    }
                    collected.append(contentsOf: chunk.readableBytesView)
                }
                return collected
            }
        } catch {
            throw Self.transportError(error, url: url, timeout: timeout)
        }
    }

    /// Reads and discards a small error body so the connection can be reused (gives up past 64 KiB).
    static func drain(_ response: HTTPClientResponse) async {
        _ = try? await response.body.collect(upTo: 64 * 1024)
    }

    /// Turns an HTTP client error into a `SluiceError` naming the (credential-free) URL.
    static func transportError(_ error: any Error, url: String, timeout: Duration) -> SluiceError {
        if let error = error as? SluiceError { return error }
        if error is IdleTimeoutExpired {
            return SluiceError(
                .upstreamTimeout, "\(url): the upstream stopped sending data for \(timeout); giving up.", cause: error)
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .tlsHandshakeTimeout,
                .getConnectionFromPoolTimeout:
                return SluiceError(
                    .upstreamTimeout, "\(url): the upstream did not answer within \(timeout).", cause: error)
            case .remoteConnectionClosed:
                return SluiceError(
                    .upstreamUnavailable,
                    "\(url): the upstream closed the connection before the response was complete.",
                    cause: error)
            default:
                break
            }
        }
        if error is CancellationError {
            return SluiceError(.upstreamUnavailable, "\(url): the request was cancelled.", cause: error)
        }
        if isConnectionRefused(error) {
            return SluiceError(
                .upstreamUnavailable,
                "\(url): the upstream refused the connection; check the connector's URL and that the upstream is up.",
                cause: error)
        }
        return SluiceError(.upstreamUnavailable, "\(url): \(error)", cause: error)
    }

    /// The error for an unusable status code.
    static func statusError(_ status: HTTPResponseStatus, url: String) -> SluiceError {
        switch status.code {
        case 401, 403:
            return SluiceError(
                .upstreamUnavailable,
                "\(url): the upstream refused access (\(status.code) \(status.reasonPhrase)); check the connector's "
                    + "username and password.")
        default:
            return SluiceError(
                .upstreamUnavailable, "\(url): the upstream answered \(status.code) \(status.reasonPhrase).")
        }
    }
}
