import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceTesting
import Testing

/// The fake upstream is test infrastructure other suites rely on; these tests pin its HTTP behaviour.
@Suite("FakeUpstream")
struct FakeUpstreamTests {
    static func get(
        _ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = []
    ) async throws -> (status: Int, headers: HTTPHeaders, body: Data) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 10 << 20)
        return (Int(response.status.code), response.headers, Data(body.readableBytesView))
    }

    @Test func servesFilesWithValidatorsAnd304() async throws {
        try await withFakeUpstream { (upstream: FakeUpstream) async throws in
            let path = "win-64/zlib-1.2.11-h62dcd97_3.conda"
            let fixture = try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent(path))
            let first = try await Self.get(upstream.url(path))
            #expect(first.status == 200)
            #expect(first.body == fixture)
            let etag = try #require(first.headers.first(name: "ETag"))
            let lastModified = try #require(first.headers.first(name: "Last-Modified"))
            #expect(first.headers.first(name: "Content-Length") == String(fixture.count))

            let byETag = try await Self.get(upstream.url(path), headers: [("If-None-Match", etag)])
            #expect(byETag.status == 304)
            #expect(byETag.body.isEmpty)
            let byDate = try await Self.get(upstream.url(path), headers: [("If-Modified-Since", lastModified)])
            #expect(byDate.status == 304)
            let otherETag = try await Self.get(upstream.url(path), headers: [("If-None-Match", "\"other\"")])
            #expect(otherETag.status == 200)

            let head = try await Self.get(upstream.url(path), method: .HEAD)
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(head.headers.first(name: "Content-Length") == String(fixture.count))

            #expect(upstream.requestCount(path) == 5)
            #expect(upstream.lastRequest(path)?.method == "HEAD")
        }
    }

    @Test func generatesZstdOnlyWhenAsked() async throws {
        try await withFakeUpstream { (upstream: FakeUpstream) async throws in
            let response = try await Self.get(upstream.url("noarch/repodata.json.zst"))
            #expect(response.status == 200)
            let json = try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent("noarch/repodata.json"))
            #expect(try Zstd.decompress(response.body, maxOutputSize: 1 << 20) == json)
        }
        try await withFakeUpstream(generateZstd: false) { (upstream: FakeUpstream) async throws in
            #expect(try await Self.get(upstream.url("noarch/repodata.json.zst")).status == 404)
        }
    }

    @Test func rejectsTraversalAndUnknownPaths() async throws {
        try await withFakeUpstream { (upstream: FakeUpstream) async throws in
            #expect(try await Self.get(upstream.url("linux-64/../../fixtures/README.md")).status == 404)
            #expect(try await Self.get(upstream.url("linux-64")).status == 404)
            #expect(try await Self.get(upstream.url("nope/repodata.json")).status == 404)
        }
    }

    @Test func scriptsAreLimitedAndClearable() async throws {
        try await withFakeUpstream { (upstream: FakeUpstream) async throws in
            let path = "osx-64/repodata.json"
            upstream.script(path, fault: .status(500), times: 2)
            #expect(try await Self.get(upstream.url(path)).status == 500)
            #expect(try await Self.get(upstream.url(path)).status == 500)
            #expect(try await Self.get(upstream.url(path)).status == 200)
            upstream.script(path, fault: .status(404))
            #expect(try await Self.get(upstream.url(path)).status == 404)
            upstream.script(path, fault: nil)
            #expect(try await Self.get(upstream.url(path)).status == 200)
            #expect(upstream.requestCount(path) == 5)
            upstream.resetCounts()
            #expect(upstream.totalRequestCount == 0)
        }
    }
}
