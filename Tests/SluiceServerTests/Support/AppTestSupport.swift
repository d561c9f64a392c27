import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import Logging
import NIOCore
import SluiceCore
import SluiceTesting
import Synchronization

@testable import SluiceServer

/// A Sluice router over memory stores, with an `Admin` user whose password is ``adminPassword``, the default
/// privileges of a new install (Admin administers, Anonymous views; `anonymousView: false` removes the latter), and a
/// private temporary folder for uploads. Tests run against it without sockets (`.router`).
struct TestServer: Sendable {
    static let adminPassword = "test-admin-password-0123456789"

    let services: SluiceServices
    let metadata: MemoryMetadataStore
    let blobs: MemoryBlobStore
    let folder: URL

    /// Builds a server; `configure` may change the configuration (e.g. `uploads.maxSize`), `access` the security
    /// options (rate limits), `logger` receives what the server logs.
    static func make(
        blobs: (any BlobStore)? = nil,
        anonymousView: Bool = true,
        access: AccessControl.Configuration = .init(),
        logger: Logger = Logger(label: "sluice.test"),
        configure: (inout SluiceConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        var configuration = SluiceConfiguration()
        configure(&configuration)
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-server-tests-\(UUID().uuidString)", isDirectory: true)
        let metadata = MemoryMetadataStore()
        let memoryBlobs = MemoryBlobStore()
        // Cost 4 keeps the tests fast; verification works the same for every cost.
        try await metadata.createUser(
            User(name: "Admin", passwordHash: Bcrypt.hash(adminPassword, cost: 4)))
        try await SecurityBootstrap.installDefaults(security: metadata, logger: logger)
        if !anonymousView {
            for privilege in await metadata.privileges() where privilege.principal == .anonymous {
                await metadata.removePrivilege(id: privilege.id)
            }
        }
        let services = try SluiceServices(
            configuration: configuration, metadata: metadata, blobs: blobs ?? memoryBlobs,
            temporaryDirectory: folder.appendingPathComponent("tmp", isDirectory: true),
            accessConfiguration: access, logger: logger)
        return TestServer(
            services: services, metadata: metadata, blobs: memoryBlobs, folder: folder, logger: logger)
    }

    let logger: Logger

    /// Runs `body` with a router test client, then removes the temporary folder.
    func test<Value: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        defer { try? FileManager.default.removeItem(at: folder) }
        let app = Application(router: buildRouter(services: services, logger: logger), logger: logger)
        return try await app.test(.router, body)
    }

    /// The files left in the upload folder.
    func temporaryFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: services.temporaryDirectory.path)
    }
}

/// Headers with `Authorization: Basic` for `user:password`.
func basicAuth(_ user: String = "Admin", _ password: String = TestServer.adminPassword) -> HTTPFields {
    var fields = HTTPFields()
    fields[.authorization] = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    return fields
}

/// `basicAuth()` plus `Content-Type: application/json`.
func adminJSONHeaders() -> HTTPFields {
    var fields = basicAuth()
    fields[.contentType] = "application/json"
    return fields
}

func jsonBody(_ text: String) -> ByteBuffer {
    ByteBuffer(string: text)
}

/// The response body parsed as JSON.
func json(_ response: TestResponse) throws -> JSONValue {
    try JSONValue.parse(response.body.readableBytesView)
}

/// The bytes of a fixture package file.
func fixtureBytes(_ group: String, _ file: String) throws -> ByteBuffer {
    ByteBuffer(bytes: try Data(contentsOf: Fixtures.package(group, file)))
}

/// The fixture manifest's sha256 and size of `packages/<group>/<file>` (independent expected values).
func manifestEntry(_ group: String, _ file: String) throws -> (sha256: String, size: Int64) {
    let text = try String(contentsOf: Fixtures.root.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8)
    for line in text.split(separator: "\n") {
        let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
        if columns.count > 2, columns[0] == "packages/\(group)/\(file)" {
            return (String(columns[2]), Int64(columns[1])!)
        }
    }
    throw SluiceError.notFound("packages/\(group)/\(file) is not in MANIFEST.tsv")
}

extension TestClientProtocol {
    /// Creates a hosted conda feed as Admin and checks the 201.
    func createFeed(_ name: String) async throws {
        try await execute(
            uri: "/api/management/feeds/create", method: .post, headers: adminJSONHeaders(),
            body: jsonBody(#"{"name":"\#(name)","feedType":"conda"}"#)
        ) { response in
            guard response.status == .created else {
                throw SluiceError(.internalError, "creating feed \(name): \(response.status)")
            }
        }
    }

    /// Uploads a fixture package through `PUT /api/packages/{feed}/upload/{filename}` as Admin.
    @discardableResult
    func upload(
        feed: String, group: String, file: String, as filename: String? = nil, overwrite: Bool = false
    ) async throws -> TestResponse {
        try await execute(
            uri: "/api/packages/\(feed)/upload/\(filename ?? file)\(overwrite ? "?overwrite=true" : "")",
            method: .put, headers: basicAuth(), body: try fixtureBytes(group, file))
    }

    /// The filenames listed in `/conda/<feed>/<subdir>/repodata.json` (both `packages` and `packages.conda`), or nil
    /// when the subdir is a 404.
    func repodataFilenames(feed: String, subdir: String) async throws -> Set<String>? {
        try await execute(uri: "/conda/\(feed)/\(subdir)/repodata.json", method: .get) { response in
            if response.status == .notFound { return nil }
            guard response.status == .ok else {
                throw SluiceError(.internalError, "repodata of \(feed)/\(subdir): \(response.status)")
            }
            let repodata = try json(response)
            let tarBz2 = repodata["packages"]?.objectValue?.keys.map { $0 } ?? []
            let conda = repodata["packages.conda"]?.objectValue?.keys.map { $0 } ?? []
            return Set(tarBz2 + conda)
        }
    }
}

/// A log handler that keeps every message, to assert what the server logs.
final class CapturingLogHandler: LogHandler, Sendable {
    final class Storage: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
    }

    let storage: Storage
    /// Metadata attached to the logger (Hummingbird adds the request id this way); kept so it is searched too.
    private let attached = Mutex<Logger.Metadata>([:])
    var metadata: Logger.Metadata {
        get { attached.withLock { $0 } }
        set { attached.withLock { $0 = newValue } }
    }
    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }

    init(storage: Storage) {
        self.storage = storage
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { attached.withLock { $0[key] } }
        set { attached.withLock { $0[key] = newValue } }
    }

    /// Keeps `level: message` followed by the event's and the logger's metadata, if any.
    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let suffix = all.isEmpty ? "" : " \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })"
        storage.lines.withLock { $0.append("\(event.level): \(event.message)\(suffix)") }
    }

    static func logger() -> (Logger, Storage) {
        let storage = Storage()
        return (Logger(label: "sluice.test") { _ in CapturingLogHandler(storage: storage) }, storage)
    }
}
