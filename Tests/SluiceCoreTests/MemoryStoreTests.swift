import Foundation
import SluiceCore
import SluiceTesting
import Testing

@Suite("Memory stores")
struct MemoryStoreTests {
    @Test("MemoryMetadataStore conformance", arguments: MetadataStoreConformance.checks)
    func metadataConformance(_ check: MetadataStoreConformance.Check) async throws {
        try await check.run(MemoryMetadataStore())
    }

    @Test("MemoryBlobStore conformance", arguments: BlobStoreConformance.checks)
    func blobConformance(_ check: BlobStoreConformance.Check) async throws {
        try await check.run(MemoryBlobStore(chunkSize: 4096))
    }

    @Test("MemoryBlobStore rejects bytes that do not match the sha256")
    func memoryBlobStoreVerifiesHash() async throws {
        let blobs = try BlobStoreConformance.fixtureBlobs()
        let store = MemoryBlobStore()
        // The .tar.bz2 file stored under the .conda file's sha256.
        do {
            try await store.put(sha256: blobs[0].sha256, from: blobs[1].file)
            Issue.record("a mismatching put succeeded")
        } catch let error as SluiceError {
            #expect(error.code == .invalidInput)
        }
        #expect(try await store.contains(sha256: blobs[0].sha256) == false)
        try await store.put(sha256: blobs[1].sha256, from: blobs[1].file)
        #expect(FileManager.default.fileExists(atPath: blobs[1].file.path), "the memory store leaves its source")
    }

    @Test("MemoryBlobStore yields chunks of the configured size")
    func memoryBlobStoreChunks() async throws {
        let blob = try #require(try BlobStoreConformance.fixtureBlobs().first)
        let store = MemoryBlobStore(chunkSize: 1000)
        try await store.put(sha256: blob.sha256, from: blob.file)
        guard case .chunks(let stream, let count) = try await store.read(sha256: blob.sha256, range: 100..<2600) else {
            Issue.record("expected chunks")
            return
        }
        #expect(count == 2500)
        var sizes: [Int] = []
        for try await chunk in stream { sizes.append(chunk.count) }
        #expect(sizes == [1000, 1000, 500])
    }
}

@Suite("Connector and feed models")
struct StorageModelTests {
    static let valid = Connector(
        name: "anaconda-main", url: "https://repo.anaconda.com/pkgs/main", username: "bot", password: "hunter2-secret",
        filters: ["numpy*", "!evil-*"])

    @Test("a well-formed connector validates")
    func validConnector() throws {
        try Self.valid.validate()
        try Connector(name: "local", url: "http://127.0.0.1:8080/conda/hosted/", metadataCacheMinutes: 0).validate()
    }

    static func changed(_ field: String, _ change: (inout Connector) -> Void) -> (String, Connector) {
        var connector = valid
        change(&connector)
        return (field, connector)
    }

    static let invalidCases: [(String, Connector)] = [
        changed("name") { $0.name = "Upper" },
        changed("name") { $0.name = "linux-64" },
        changed("name") { $0.name = "" },
        changed("feedType") { $0.feedType = "pypi" },
        changed("URL") { $0.url = "ftp://repo.example/main" },
        changed("URL") { $0.url = "repo.anaconda.com/pkgs/main" },
        changed("URL") { $0.url = "https:///no-host" },
        changed("credentials") { $0.url = "https://bot:hunter2-secret@repo.example/main" },
        changed("query") { $0.url = "https://repo.example/main?x=1" },
        changed("timeout") { $0.timeout = 0 },
        changed("metadataCacheMinutes") { $0.metadataCacheMinutes = -1 },
        changed("username") { $0.username = nil },
        changed("filter") { $0.filters = ["!"] },
        changed("filter") { $0.filters = ["num py"] },
        changed("filter") { $0.filters = ["a/b"] },
        changed("filter") { $0.filters = ["a!b"] },
    ]

    @Test("invalid connectors are refused with invalidInput", arguments: invalidCases)
    func invalidConnector(field: String, connector: Connector) {
        do {
            try connector.validate()
            Issue.record("a connector with a bad \(field) validated")
        } catch {
            #expect(error.code == .invalidInput)
            #expect(!error.message.contains("hunter2-secret"), "the message must not quote the password")
            if field == "name" { #expect(error.message.hasPrefix("Connector name"), "\(error.message)") }
        }
    }

    @Test("the password never appears in interpolation, dump or encoded JSON; decoding accepts it")
    func passwordStaysInside() throws {
        let connector = Self.valid
        #expect(!"\(connector)".contains("hunter2-secret"))
        #expect("\(connector)".contains("<redacted>"))
        #expect(!String(reflecting: connector).contains("hunter2-secret"))
        var dumped = ""
        dump(connector, to: &dumped)
        #expect(!dumped.contains("hunter2-secret") && dumped.contains("anaconda-main"))

        let encoded = String(decoding: try JSONEncoder().encode(connector), as: UTF8.self)
        #expect(!encoded.contains("hunter2-secret") && !encoded.contains("password"))
        #expect(encoded.contains("\"username\":\"bot\""))

        let request = #"{"name":"forge","url":"https://conda.anaconda.org/conda-forge","password":"p","username":"u"}"#
        let decoded = try JSONDecoder().decode(Connector.self, from: Data(request.utf8))
        #expect(decoded.password == "p" && decoded.username == "u")
        #expect(decoded.timeout == 30 && decoded.metadataCacheMinutes == 30 && decoded.metadataCacheEnabled)
        #expect(decoded.feedType == "conda" && decoded.filters.isEmpty && decoded.description.isEmpty)
    }

    @Test("a feed encoded before connectors existed decodes with none; connectors round-trip in order")
    func feedCoding() throws {
        let feed = Feed(
            name: "unapproved-conda", kind: .proxy, createdAt: Date(timeIntervalSince1970: 1_700_000_000),
            connectors: ["b", "a"])
        let data = try JSONEncoder().encode(feed)
        #expect(try JSONDecoder().decode(Feed.self, from: data) == feed)
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["connectors"] = nil
        let legacy = try JSONDecoder().decode(Feed.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(legacy.connectors.isEmpty)
        #expect(legacy.name == feed.name && legacy.kind == .proxy)
    }
}
