import AsyncHTTPClient
import Foundation
import Logging
import SluiceCore
import SluiceUpstream
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An upstream whose port refuses connections must fail as refused (`upstreamUnavailable`, a 502), not wait for the
/// channel timeout: AsyncHTTPClient's default pool retries failed connects until the deadline (and then reports a
/// timeout); the client from `UpstreamClient.makeHTTPClient` does not.
@Suite("Refused upstream connections")
struct RefusedConnectionTests {
    /// A TCP port on 127.0.0.1 that was bound (and listening) a moment ago and is closed now.
    private func closedLocalPort() throws -> Int {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 1) == 0
                    && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw SluiceError(.internalError, "Could not bind a port on 127.0.0.1.") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private func makeRefusingClient() -> (HTTPClient, UpstreamClient) {
        var logger = Logger(label: "sluice.upstream.tests")
        logger.logLevel = .critical
        let httpClient = UpstreamClient.makeHTTPClient()
        return (httpClient, UpstreamClient(httpClient: httpClient, logger: logger))
    }

    @Test("repodata from a closed port is refused (not a timeout), naming the upstream without credentials")
    func repodataFromClosedPort() async throws {
        let port = try closedLocalPort()
        let timeout = Duration.seconds(60)
        let channel = try UpstreamChannel(
            baseURL: "http://127.0.0.1:\(port)/channel", username: "alice", password: "s3cret-pass", timeout: timeout)
        let (httpClient, client) = makeRefusingClient()
        let error = await sluiceError {
            _ = try await client.fetchRepodata(channel: channel, subdir: "noarch", validators: nil)
        }
        try await httpClient.shutdown()
        // A client that retried the connect until the deadline would end with `.upstreamTimeout` instead.
        #expect(error?.code == .upstreamUnavailable)
        let message = error?.message ?? ""
        #expect(message.contains("127.0.0.1:\(port)"))
        #expect(message.contains("refused"))
        #expect(!message.contains("s3cret-pass"))
    }

    @Test("a package download from a closed port fails as upstreamUnavailable, not a timeout")
    func downloadFromClosedPort() async throws {
        let port = try closedLocalPort()
        let timeout = Duration.seconds(60)
        let channel = try UpstreamChannel(baseURL: "http://127.0.0.1:\(port)/channel", timeout: timeout)
        let (httpClient, client) = makeRefusingClient()
        let target = try temporaryFileURL()
        let error = await sluiceError {
            _ = try await client.downloadPackage(
                channel: channel, subdir: "noarch", filename: "example-1.0-0.tar.bz2",
                expected: ExpectedFile(size: 10, sha256: String(repeating: "a", count: 64), md5: nil), to: target)
        }
        try await httpClient.shutdown()
        #expect(error?.code == .upstreamUnavailable)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
        #expect(error?.message.contains("refused") == true)
    }
}
