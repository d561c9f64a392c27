// Support for the proxy test suites (named *Tests.swift to stay within the proxy test files).
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SluiceCore
import SluiceStorage
import SluiceTesting
import Synchronization

@testable import SluiceServer

/// A wall clock that tests move forward.
final class ProxyTestClock: Sendable {
    private let current = Mutex(Date())
    var now: Date { current.withLock { $0 } }
    func advance(minutes: Double) { current.withLock { $0 += minutes * 60 } }
}

/// A Sluice with a proxy feed `proxy` whose connectors point at fake upstreams serving the conda-format-repo fixture.
struct ProxyHarness: Sendable {
    let services: SluiceServices
    let metadata: any MetadataStore
    let clock: ProxyTestClock
    let folder: URL

    /// Builds services over `metadata`/`blobs` (memory stores by default) with the test clock.
    static func make(
        metadata: (any MetadataStore)? = nil, blobs: (any BlobStore)? = nil, folder: URL? = nil,
        streamingThreshold: Int64? = nil
    ) throws -> ProxyHarness {
        let folder =
            folder
            ?? FileManager.default.temporaryDirectory.appendingPathComponent(
                "sluice-proxy-tests-\(UUID().uuidString)", isDirectory: true)
        let clock = ProxyTestClock()
        let metadata = metadata ?? MemoryMetadataStore()
        var logger = Logger(label: "sluice.proxy.test")
        logger.logLevel = .warning
        let services = try SluiceServices(
            configuration: SluiceConfiguration(), metadata: metadata, blobs: blobs ?? MemoryBlobStore(),
            temporaryDirectory: folder.appendingPathComponent("tmp", isDirectory: true),
            clock: { clock.now }, logger: logger)
        return ProxyHarness(services: services, metadata: metadata, clock: clock, folder: folder)
    }

    /// Creates connector `name` to `upstream` and returns it.
    @discardableResult
    func addConnector(
        _ name: String, url: String, timeout: Int = 10, minutes: Int = 30, filters: [String] = []
    ) async throws -> Connector {
        let connector = Connector(
            name: name, url: url, timeout: timeout, metadataCacheMinutes: minutes, filters: filters)
        try await metadata.createConnector(connector)
        return connector
    }

    /// Creates the proxy feed `name` over `connectors`.
    func addProxyFeed(_ name: String = "proxy", connectors: [String]) async throws {
        try await metadata.createFeed(Feed(name: name, kind: .proxy, connectors: connectors))
    }

    func router() -> Router<SluiceRequestContext> {
        buildRouter(services: services, logger: Logger(label: "sluice.proxy.test"))
    }

    /// Runs `body` against the router without sockets.
    func test<Value: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let app = Application(router: router())
        return try await app.test(.router, body)
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: folder)
    }
}

/// The fixture channel's file, as bytes.
func channelFixture(_ path: String) throws -> Data {
    try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent(path))
}

/// The sha256 and size MANIFEST.tsv lists for a file of the fixture channel (independent expected values).
func channelManifestEntry(_ path: String) throws -> (sha256: String, size: Int64) {
    let text = try String(contentsOf: Fixtures.root.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8)
    for line in text.split(separator: "\n") {
        let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
        if columns.count > 2, columns[0] == "channels/conda-format-repo/\(path)" {
            return (String(columns[2]), Int64(columns[1])!)
        }
    }
    throw SluiceError.notFound("channels/conda-format-repo/\(path) is not in MANIFEST.tsv")
}

func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
    SHA256.hash(data: Data(bytes)).map { String(format: "%02x", $0) }.joined()
}

/// Every record of a repodata document (`packages` and `packages.conda`), by file name.
func repodataRecords(_ document: JSONValue) -> [String: [String: JSONValue]] {
    var result: [String: [String: JSONValue]] = [:]
    for section in ["packages", "packages.conda"] {
        for (filename, value) in document[section]?.objectValue ?? [:] {
            result[filename] = value.objectValue
        }
    }
    return result
}

/// The fixture's `linux-64/repodata.json` with every record changed by `change` and `extra` records added to
/// `packages.conda`, as JSON bytes.
func modifiedLinuxRepodata(
    change: ([String: JSONValue]) -> [String: JSONValue] = { $0 },
    extra: [String: [String: JSONValue]] = [:]
) throws -> Data {
    guard case .object(var root) = try JSONValue.parse(channelFixture("linux-64/repodata.json")) else {
        throw SluiceError(.internalError, "fixture repodata is not an object")
    }
    for section in ["packages", "packages.conda"] {
        var records = root[section]?.objectValue ?? [:]
        for (filename, value) in records {
            records[filename] = .object(change(value.objectValue ?? [:]))
        }
        if section == "packages.conda" {
            for (filename, fields) in extra { records[filename] = .object(fields) }
        }
        root[section] = .object(records)
    }
    return Data(JSONValue.object(root).compactJSON())
}
