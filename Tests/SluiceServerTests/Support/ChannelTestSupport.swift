import Foundation
import Hummingbird
import Logging
import SluiceCore
import SluiceServer
import SluiceTesting

/// A feed with real fixture packages in memory stores (or any `BlobStore`), a publisher and the channel routes.
struct ChannelTestFeed {
    let metadata: MemoryMetadataStore
    let blobs: any BlobStore
    let publisher: ChannelPublisher
    let feedName: String

    init(feedName: String = "f", blobs: any BlobStore = MemoryBlobStore(), zstdLevel: Int32 = 3) async throws {
        self.metadata = MemoryMetadataStore()
        self.blobs = blobs
        self.feedName = feedName
        self.publisher = ChannelPublisher(
            metadata: metadata, configuration: .init(zstdLevel: zstdLevel), logger: Logger(label: "test.channel"))
        try await metadata.createFeed(Feed(name: feedName))
    }

    /// Inspects a fixture package, stores its bytes and row (no republish).
    @discardableResult
    func addWithoutPublishing(_ file: URL, uploadedAt: Date = Date()) async throws -> StoredPackage {
        let inspected = try PackageInspector().inspect(file: file, filename: file.lastPathComponent)
        // BlobStore.put may move its source: give it a copy.
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-test-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: file, to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        try await blobs.put(sha256: inspected.record.sha256, from: copy)
        let stored = StoredPackage(
            feed: feedName, subdir: inspected.subdir, record: inspected.record, channelData: inspected.channelData,
            uploadedAt: uploadedAt)
        _ = try await metadata.addPackage(stored, overwrite: false)
        return stored
    }

    /// Adds a fixture package and republishes its subdir.
    @discardableResult
    func add(_ file: URL, uploadedAt: Date = Date()) async throws -> StoredPackage {
        let stored = try await addWithoutPublishing(file, uploadedAt: uploadedAt)
        try await publisher.republish(feed: feedName, subdir: stored.subdir)
        return stored
    }

    /// An application whose router serves the channel routes (behind the error middleware, as in the server).
    func application(configuration: ChannelController.Configuration = .init()) -> some ApplicationProtocol {
        let router = Router(context: SluiceRequestContext.self)
        router.add(middleware: SluiceErrorMiddleware())
        ChannelController(publisher: publisher, metadata: metadata, blobs: blobs, configuration: configuration)
            .addRoutes(to: router)
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }
}

enum ChannelFixtures {
    /// A .conda in linux-64 (pixi) and one with dependencies.
    static let linuxConda = Fixtures.package("pixi", "dummy-a-0.1.0-hb0f4dca_0.conda")
    /// A noarch .tar.bz2.
    static let noarchTarBz2 = Fixtures.package("rattler", "clobber-nested-1-0.1.0-h4616a5c_0.tar.bz2")
    /// The largest fixture (a real defaults build, 113 KB, osx-64).
    static let largeConda = Fixtures.package("conda-package-handling", "mock-2.0.0-py37_1000.conda")
    /// Small noarch .conda packages from conda's test recipes.
    static func testRecipes() throws -> [URL] {
        try Fixtures.allPackages().filter { $0.path.contains("/conda-test-recipes/") }
    }
}

/// Decompresses gzip bytes with the system's `gzip -dc` (an independent decoder for checking our encoder's output).
func gunzip(_ data: Data) throws -> Data {
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-gunzip-\(UUID().uuidString).gz")
    try data.write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["gzip", "-dc", input.path]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let bytes = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw SluiceError(.internalError, "gzip -dc failed with status \(process.terminationStatus)")
    }
    return bytes
}
