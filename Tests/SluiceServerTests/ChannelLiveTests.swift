import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle
import SluiceCore
import SluiceServer
import SluiceStorage
import SluiceTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Channel routes over a real socket")
struct ChannelLiveTests {
    /// Run with the in-memory cache of small files off (every response streams from disk) and on.
    @Test(
        "Package files stream from disk byte for byte, whole and in ranges; 304 and HEAD keep the connection usable",
        arguments: [0, 64 << 20])
    func streamingFromDisk(hotFileCacheCapacity: Int) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-live-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let feed = try await ChannelTestFeed(blobs: try FileSystemBlobStore(root: root))
        let stored = try await feed.add(ChannelFixtures.largeConda)
        let tarBz2 = try await feed.add(Fixtures.package("conda-package-handling", "mock-2.0.0-py37_1000.tar.bz2"))
        // The blob store hands out local files, so this test exercises the file streaming path.
        guard case .file = try await feed.blobs.read(sha256: stored.sha256, range: nil) else {
            Issue.record("FileSystemBlobStore should return a local file")
            return
        }
        let bytes = try Data(contentsOf: ChannelFixtures.largeConda)
        let size = bytes.count

        let router = Router(context: SluiceRequestContext.self)
        router.add(middleware: SluiceErrorMiddleware())
        ChannelController(
            publisher: feed.publisher, metadata: feed.metadata, blobs: feed.blobs,
            configuration: .init(hotFileCacheCapacity: hotFileCacheCapacity)
        )
        .addRoutes(to: router)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            })

        let services = ServiceGroup(
            configuration: .init(services: [app], logger: Logger(label: "test.live")))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                let uri = "/conda/f/osx-64/\(stored.filename)"
                let whole = try await client.get(uri)
                #expect(whole.status == .ok)
                #expect(whole.headers[.contentLength] == String(size))
                #expect(whole.bodyBytes == bytes)

                for (range, expected) in [
                    ("bytes=-22", bytes.suffix(22)), ("bytes=-5000", bytes.suffix(5000)),
                    ("bytes=0-0", bytes.prefix(1)), ("bytes=1000-", bytes.dropFirst(1000)),
                    ("bytes=4096-70000", bytes[4096...70000]),
                ] {
                    let response = try await client.get(uri, headers: [.range: range])
                    #expect(response.status == .partialContent, "\(range)")
                    #expect(response.bodyBytes == Data(expected), "\(range)")
                    #expect(response.headers[.contentLength] == String(expected.count), "\(range)")
                }

                let unsatisfiable = try await client.get(uri, headers: [.range: "bytes=\(size)-"])
                #expect(unsatisfiable.status == .rangeNotSatisfiable)
                #expect(unsatisfiable.headers[.contentRange] == "bytes */\(size)")

                let head = try await client.head(uri)
                #expect(head.status == .ok)
                #expect(head.headers[.contentLength] == String(size))
                #expect(head.bodyBytes.isEmpty)

                let notModified = try await client.get(uri, headers: [.ifNoneMatch: "\"\(stored.sha256)\""])
                #expect(notModified.status == .notModified)
                #expect(notModified.bodyBytes.isEmpty)

                // The same connection still answers correctly after HEAD and 304.
                let other = try await client.get("/conda/f/osx-64/\(tarBz2.filename)")
                #expect(other.status == .ok)
                let otherBytes = try Data(
                    contentsOf: Fixtures.package("conda-package-handling", "mock-2.0.0-py37_1000.tar.bz2"))
                #expect(other.bodyBytes == otherBytes)

                let repodata = try await client.get("/conda/f/osx-64/repodata.json", headers: [.acceptEncoding: "gzip"])
                #expect(repodata.status == .ok)
                #expect(repodata.headers[.contentEncoding] == "gzip")
                let index = try JSONValue.parse(try gunzip(repodata.bodyBytes))
                #expect(index["packages.conda"]?[stored.filename]?["sha256"]?.stringValue == stored.sha256)

                let missing = try await client.get("/conda/f/osx-64/../../../etc/passwd")
                #expect(missing.status == .notFound)
            }
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }
}

@Suite("Channel byte ranges compared with nginx")
struct ChannelNginxRangeTests {
    static let nginx = "/usr/sbin/nginx"

    @Test(
        "Sluice answers single byte ranges exactly as nginx does for the same file",
        .enabled(if: FileManager.default.isExecutableFile(atPath: nginx), "needs nginx (Debian package nginx)"))
    func rangesMatchNginx() async throws {
        let packageFile = ChannelFixtures.largeConda
        let size = try Data(contentsOf: packageFile).count
        let feed = try await ChannelTestFeed()
        let stored = try await feed.add(packageFile)
        let ranges = [
            "bytes=0-99", "bytes=-22", "bytes=-1000", "bytes=1000-", "bytes=\(size - 1)-\(size - 1)",
            "bytes=0-\(size * 2)", "bytes=-\(size * 2)", "bytes= 0-1", "BYTES=1-2", "bytes=\(size)-",
            "bytes=\(size + 10)-\(size + 20)", "bytes=-0", "bytes=100-50", "bytes=abc", "bytes=-", "bytes=",
            "items=0-1",
        ]

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let nginxPort = try freeLocalPort()
        let configuration = """
            worker_processes 1;
            pid \(directory.path)/nginx.pid;
            error_log \(directory.path)/error.log;
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(directory.path); proxy_temp_path \(directory.path);
                fastcgi_temp_path \(directory.path); uwsgi_temp_path \(directory.path); scgi_temp_path \(directory.path);
                server { listen 127.0.0.1:\(nginxPort); root \(packageFile.deletingLastPathComponent().path); }
            }
            """
        try configuration.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.nginx)
        process.arguments = [
            "-c", directory.appendingPathComponent("nginx.conf").path, "-p", directory.path, "-g", "daemon off;",
        ]
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        try await waitUntilListening(port: nginxPort)

        let nginxAnswers = try await TestClient.withClient(host: "127.0.0.1", port: nginxPort) { client in
            var answers: [(status: HTTPResponse.Status, headers: HTTPFields, body: Data)] = []
            for range in ranges {
                let response = try await client.execute(
                    TestClient.Request(
                        "/\(packageFile.lastPathComponent)", method: .get, authority: "127.0.0.1",
                        headers: [.range: range]))
                answers.append((response.status, response.headers, response.bodyBytes))
            }
            return answers
        }
        #expect(nginxAnswers.first?.status == .partialContent)

        try await feed.application().test(.router) { client in
            for (range, nginx) in zip(ranges, nginxAnswers) {
                let sluice = try await client.execute(
                    uri: "/conda/f/osx-64/\(stored.filename)", method: .get, headers: [.range: range])
                #expect(sluice.status == nginx.status, "\(range)")
                #expect(sluice.headers[.contentRange] == nginx.headers[.contentRange], "\(range)")
                if nginx.status != .rangeNotSatisfiable {
                    #expect(sluice.headers[.contentLength] == nginx.headers[.contentLength], "\(range)")
                    #expect(Data(sluice.body.readableBytesView) == nginx.body, "\(range)")
                }
            }
        }
    }

    /// Polls until something accepts connections on 127.0.0.1:`port` (5 s at most).
    private func waitUntilListening(port: Int) async throws {
        for _ in 0..<100 {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(descriptor)
            if connected == 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SluiceError(.internalError, "nginx did not start listening on 127.0.0.1:\(port)")
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
    private func freeLocalPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw SluiceError(.internalError, "Could not find a free port on 127.0.0.1.") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension TestClient.Response {
    /// The body as `Data` (empty when there was none).
    fileprivate var bodyBytes: Data { body.map { Data($0.readableBytesView) } ?? Data() }
}
