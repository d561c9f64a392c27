import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SluiceCore
import Testing

@testable import SluiceServer

/// A blob store whose storage has gone away: every call fails as a real backend would (storageFailure).
struct UnreachableBlobStore: BlobStore {
    func failure() -> SluiceError { SluiceError(.storageFailure, "The blob folder is gone.") }
    func put(sha256: String, from file: URL) async throws { throw failure() }
    func contains(sha256: String) async throws -> Bool { throw failure() }
    func size(sha256: String) async throws -> Int64? { throw failure() }
    func read(sha256: String, range: Range<Int64>?) async throws -> BlobContent { throw failure() }
    func delete(sha256: String) async throws { throw failure() }
    func ping() async throws { throw failure() }
}

@Suite("Health")
struct HealthTests {
    @Test func plainOK() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/plain; charset=utf-8")
                #expect(String(buffer: response.body) == "OK\n")
            }
        }
    }

    @Test(arguments: [("/health", true), ("/health.json", false)])
    func jsonVariant(path: String, sendAccept: Bool) async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            var headers = HTTPFields()
            if sendAccept { headers[.accept] = "application/json" }
            try await client.execute(uri: path, method: .get, headers: headers) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                let body = try json(response)
                #expect(
                    body
                        == .object([
                            "status": .string("ok"), "version": .string(SluiceVersion.current),
                            "database": .string("ok"), "blobStorage": .string("ok"),
                        ]))
            }
        }
    }

    @Test func failingStorageIs503() async throws {
        let server = try await TestServer.make(blobs: UnreachableBlobStore())
        try await server.test { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body) != "OK\n")
            }
            try await client.execute(uri: "/health.json", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = try json(response)
                #expect(body["status"] == .string("error"))
                #expect(body["database"] == .string("ok"))
                #expect(body["blobStorage"] == .string("error"))
            }
        }
    }

    @Test func storageFailureDuringAnUploadIs500WithoutDetails() async throws {
        let server = try await TestServer.make(blobs: UnreachableBlobStore())
        try await server.test { client in
            try await client.createFeed("broken")
            let response = try await client.upload(
                feed: "broken", group: "rattler", file: "empty-0.1.0-h4616a5c_0.conda")
            #expect(response.status == .internalServerError)
            let body = try json(response)
            #expect(body["error"] == .string("storageFailure"))
            #expect(await server.metadata.subdirs(feed: "broken").isEmpty)
            #expect(try server.temporaryFiles().isEmpty)
        }
    }
}
