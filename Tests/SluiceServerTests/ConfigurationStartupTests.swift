import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle
import SluiceCore
import Testing

@testable import SluiceServer

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Start-up of the real application: SQLite and blobs under a temporary data directory.
@Suite("Start-up")
struct ConfigurationStartupTests {
    func temporaryDataDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-data-\(UUID().uuidString)", isDirectory: true)
    }

    @Test func firstStartCreatesTheDataDirectoryDatabaseAndAdmin() async throws {
        let dataDirectory = temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        var configuration = SluiceConfiguration()
        configuration.storage.dataDirectory = dataDirectory.path
        configuration.admin.initialPassword = TestServer.adminPassword
        let (logger, logs) = CapturingLogHandler.logger()

        let app = try await buildApplication(configuration: configuration, logger: logger)
        let files = try FileManager.default.contentsOfDirectory(atPath: dataDirectory.path)
        #expect(Set(files).isSuperset(of: ["sluice.sqlite", "blobs", "tmp"]))
        #expect(
            logs.all.contains { $0.contains("Created the Admin user with the password from SLUICE_ADMIN_PASSWORD") })
        #expect(logs.all.allSatisfy { !$0.contains(TestServer.adminPassword) })

        try await app.test(.router) { client in
            try await client.createFeed("persisted")
            let upload = try await client.upload(
                feed: "persisted", group: "pixi", file: "dummy-g-0.1.0-hb0f4dca_0.conda")
            #expect(upload.status == .created)
            let sha256 = try manifestEntry("pixi", "dummy-g-0.1.0-hb0f4dca_0.conda").sha256
            let blob = dataDirectory.appendingPathComponent(
                "blobs/\(sha256.prefix(2))/\(sha256.dropFirst(2).prefix(2))/\(sha256)")
            #expect(FileManager.default.fileExists(atPath: blob.path))
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: dataDirectory.appendingPathComponent("tmp").path)
                    .isEmpty)
            try await client.execute(uri: "/health.json", method: .get) { response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["database"] == .string("ok"))
                #expect(body["blobStorage"] == .string("ok"))
            }
        }

        // A second start on the same directory keeps feeds, packages and the Admin password.
        configuration.admin.initialPassword = "ignored-after-first-start"
        let (secondLogger, secondLogs) = CapturingLogHandler.logger()
        let again = try await buildApplication(configuration: configuration, logger: secondLogger)
        #expect(!secondLogs.all.contains { $0.contains("Created the Admin user") })
        try await again.test(.router) { client in
            try await client.execute(uri: "/api/packages/persisted/versions", method: .get) { response in
                let files = try json(response).arrayValue?.compactMap { $0["filename"]?.stringValue }
                #expect(files == ["dummy-g-0.1.0-hb0f4dca_0.conda"])
            }
            #expect(
                try await client.repodataFilenames(feed: "persisted", subdir: "linux-64") == [
                    "dummy-g-0.1.0-hb0f4dca_0.conda"
                ])
            try await client.execute(uri: "/api/management/feeds/list", method: .get, headers: basicAuth()) {
                response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func runsOnALoopbackPortLogsReadyOnceAndStopsGracefully() async throws {
        let dataDirectory = temporaryDataDirectory()
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        var configuration = SluiceConfiguration()
        configuration.storage.dataDirectory = dataDirectory.path
        configuration.server.host = "127.0.0.1"
        configuration.server.port = 0
        let (logger, logs) = CapturingLogHandler.logger()

        let app = try await buildApplication(configuration: configuration, logger: logger)
        // The generated password is logged exactly once, and is the Admin password.
        let passwordLines = logs.all.filter { $0.contains("generated password") }
        #expect(passwordLines.count == 1)
        let password = try #require(
            passwordLines.first?.split(separator: " ").first { $0.count >= 24 }.map(String.init))

        let group = ServiceGroup(services: [app], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var readyLine: String?
            for _ in 0..<200 where readyLine == nil {
                readyLine = logs.all.first { $0.contains("Sluice is ready at http://127.0.0.1:") }
                if readyLine == nil { try await Task.sleep(for: .milliseconds(25)) }
            }
            let line = try #require(readyLine)
            let url = try #require(line.split(separator: " ").last.map(String.init))
            #expect(url.hasSuffix("/"))
            #expect(!url.hasSuffix(":0/"))

            let (body, response) = try await URLSession.shared.data(from: URL(string: url + "health")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            #expect(String(decoding: body, as: UTF8.self) == "OK\n")

            var request = URLRequest(url: URL(string: url + "api/management/feeds/list")!)
            request.setValue(
                "Basic " + Data("Admin:\(password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
            let (_, listResponse) = try await URLSession.shared.data(for: request)
            #expect((listResponse as? HTTPURLResponse)?.statusCode == 200)

            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(logs.all.filter { $0.contains("Sluice is ready at") }.count == 1)
        #expect(logs.all.filter { $0.contains(password) }.count == 1, "the password appears in the log once only")
    }

    @Test func unusableDataDirectoryIsAClearError() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-not-a-dir-\(UUID().uuidString)")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        var configuration = SluiceConfiguration()
        configuration.storage.dataDirectory = file.path
        await #expect(throws: SluiceError.self) {
            _ = try await buildApplication(configuration: configuration, logger: Logger(label: "sluice.test"))
        }
    }
}
