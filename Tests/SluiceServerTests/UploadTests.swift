import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceServer

@Suite("Package uploads")
struct UploadTests {
    /// Real fixture packages of both formats and three subdirs, with what their index.json says.
    static let packages: [(group: String, file: String, name: String, version: String, build: String, subdir: String)] =
        [
            ("rattler", "empty-0.1.0-h4616a5c_0.conda", "empty", "0.1.0", "h4616a5c_0", "noarch"),
            ("rattler", "clobber-1-0.1.0-h4616a5c_0.tar.bz2", "clobber-1", "0.1.0", "h4616a5c_0", "noarch"),
            ("pixi", "dummy-a-0.1.0-hb0f4dca_0.conda", "dummy-a", "0.1.0", "hb0f4dca_0", "linux-64"),
            ("quetz", "other-package-0.2-0.tar.bz2", "other-package", "0.2", "0", "linux-64"),
            ("quetz", "other-package-0.2-0.conda", "other-package", "0.2", "0", "linux-64"),
            ("conda-index", "fly-2.5.2-0.tar.bz2", "fly", "2.5.2", "0", "osx-64"),
            ("conda-package-handling", "mock-2.0.0-py37_1000.conda", "mock", "2.0.0", "py37_1000", "osx-64"),
        ]

    @Test func realPackagesOfBothFormatsLandInTheirSubdirs() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("internal")
            for package in Self.packages {
                let expected = try manifestEntry(package.group, package.file)
                let response = try await client.upload(feed: "internal", group: package.group, file: package.file)
                #expect(response.status == .created, "\(package.file)")
                let body = try json(response)
                #expect(body["status"] == .string("added"))
                #expect(body["feed"] == .string("internal"))
                #expect(body["filename"] == .string(package.file))
                #expect(body["name"] == .string(package.name))
                #expect(body["version"] == .string(package.version))
                #expect(body["build"] == .string(package.build))
                #expect(body["subdir"] == .string(package.subdir))
                #expect(body["sha256"] == .string(expected.sha256))
                #expect(body["size"] == .int(expected.size))
                #expect(body["md5"]?.stringValue?.count == 32)
                #expect(try await server.blobs.contains(sha256: expected.sha256))
            }
            for subdir in ["noarch", "linux-64", "osx-64"] {
                let expected = Set(Self.packages.filter { $0.subdir == subdir }.map(\.file))
                #expect(try await client.repodataFilenames(feed: "internal", subdir: subdir) == expected)
            }
            // `.conda` files are listed under packages.conda, `.tar.bz2` under packages.
            try await client.execute(uri: "/conda/internal/linux-64/repodata.json", method: .get) { response in
                let repodata = try json(response)
                #expect(repodata["packages.conda"]?["other-package-0.2-0.conda"]?["sha256"] != nil)
                #expect(repodata["packages"]?["other-package-0.2-0.tar.bz2"]?["sha256"] != nil)
                #expect(repodata["packages"]?["other-package-0.2-0.conda"] == nil)
            }
            // A package file is downloadable with the uploaded bytes.
            try await client.execute(uri: "/conda/internal/osx-64/fly-2.5.2-0.tar.bz2", method: .get) { response in
                #expect(response.status == .ok)
                let original = try Data(contentsOf: Fixtures.package("conda-index", "fly-2.5.2-0.tar.bz2"))
                #expect(Data(response.body.readableBytesView) == original)
            }
            #expect(try server.temporaryFiles().isEmpty)
        }
    }

    @Test func identicalThenOtherBytesThenOverwrite() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("clash")
            let original = try manifestEntry("rattler", "test-package-0.1-0.tar.bz2")
            let other = try manifestEntry("edge-cases", "test-package-0.1-0.tar.bz2")
            #expect(original.sha256 != other.sha256)

            let first = try await client.upload(feed: "clash", group: "rattler", file: "test-package-0.1-0.tar.bz2")
            #expect(first.status == .created)
            #expect(try json(first)["status"] == .string("added"))

            let again = try await client.upload(feed: "clash", group: "rattler", file: "test-package-0.1-0.tar.bz2")
            #expect(again.status == .ok)
            let againBody = try json(again)
            #expect(againBody["status"] == .string("unchanged"))
            #expect(againBody["sha256"] == .string(original.sha256))

            let conflicting = try await client.upload(
                feed: "clash", group: "edge-cases", file: "test-package-0.1-0.tar.bz2")
            #expect(conflicting.status == .conflict)
            let conflictBody = try json(conflicting)
            #expect(conflictBody["error"] == .string("conflict"))
            #expect(conflictBody["message"]?.stringValue?.contains("overwrite=true") == true)
            // The refused bytes were not stored, and the feed still serves the original.
            #expect(try await !server.blobs.contains(sha256: other.sha256))
            #expect(
                await server.metadata.package(feed: "clash", subdir: "noarch", filename: "test-package-0.1-0.tar.bz2")?
                    .sha256 == original.sha256)
            #expect(try server.temporaryFiles().isEmpty)

            let replaced = try await client.upload(
                feed: "clash", group: "edge-cases", file: "test-package-0.1-0.tar.bz2", overwrite: true)
            #expect(replaced.status == .created)
            let replacedBody = try json(replaced)
            #expect(replacedBody["status"] == .string("replaced"))
            #expect(replacedBody["sha256"] == .string(other.sha256))
            #expect(try await server.blobs.contains(sha256: other.sha256))
            #expect(try await !server.blobs.contains(sha256: original.sha256), "the replaced bytes are collected")
            try await client.execute(uri: "/conda/clash/noarch/repodata.json", method: .get) { response in
                let repodata = try json(response)
                #expect(repodata["packages"]?["test-package-0.1-0.tar.bz2"]?["sha256"] == .string(other.sha256))
            }
        }
    }

    @Test func sameBytesInTwoFeedsAreStoredOnceAndKeptWhileReferenced() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("first")
            try await client.createFeed("second")
            let file = "dummy-c-0.1.0-hb0f4dca_0.conda"
            let sha256 = try manifestEntry("pixi", file).sha256
            #expect(try await client.upload(feed: "first", group: "pixi", file: file).status == .created)
            #expect(try await client.upload(feed: "second", group: "pixi", file: file).status == .created)
            #expect(await server.metadata.referenceCount(sha256: sha256) == 2)
            try await client.execute(
                uri: "/api/packages/first/delete", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"filename":"\#(file)"}"#)
            ) { response in
                #expect(response.status == .ok)
            }
            #expect(try await server.blobs.contains(sha256: sha256), "still used by the second feed")
            try await client.execute(
                uri: "/api/packages/second/delete", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"filename":"\#(file)"}"#)
            ) { response in
                #expect(response.status == .ok)
            }
            #expect(try await !server.blobs.contains(sha256: sha256))
        }
    }

    /// Every refused upload: status, error code, and nothing left behind (no temporary file, no blob, no row).
    @Test func refusedUploadsLeaveNothingBehind() async throws {
        let server = try await TestServer.make { $0.uploads.maxSize = 4096 }
        try await server.test { client in
            try await client.createFeed("strict")
            func expectRefused(
                _ uri: String, body: ByteBuffer, headers: HTTPFields = basicAuth(), status: HTTPResponse.Status,
                code: String, message: String?
            ) async throws {
                try await client.execute(uri: uri, method: .put, headers: headers, body: body) { response in
                    #expect(response.status == status, "\(uri)")
                    #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                    let failure = try json(response)
                    #expect(failure["error"] == .string(code), "\(uri)")
                    let text = failure["message"]?.stringValue ?? ""
                    #expect(!text.isEmpty)
                    if let message { #expect(text.contains(message), "\(uri): \(text)") }
                }
                #expect(try server.temporaryFiles().isEmpty, "\(uri) left a temporary file")
            }
            let small = try fixtureBytes("rattler", "empty-0.1.0-h4616a5c_0.conda")  // 1,4 kB
            #expect(small.readableBytes < 4096)

            try await expectRefused(
                "/api/packages/strict/upload/empty-0.1.0-h4616a5c_0.conda", body: ByteBuffer(),
                status: .badRequest, code: "invalidInput", message: "empty")
            try await expectRefused(
                "/api/packages/strict/upload/garbage-1.0-0.tar.bz2",
                body: ByteBuffer(bytes: (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }),
                status: .badRequest, code: "invalidPackage", message: "conda package")
            try await expectRefused(
                "/api/packages/strict/upload/garbage-1.0-0.conda",
                body: ByteBuffer(string: "PK\u{3}\u{4} not really a zip"),
                status: .badRequest, code: "invalidPackage", message: "zip")
            try await expectRefused(
                "/api/packages/strict/upload/test-package-0.1-0_copy.tar.bz2",
                body: try fixtureBytes("edge-cases", "test-package-0.1-0_copy.tar.bz2"),
                status: .badRequest, code: "invalidPackage", message: "test-package-0.1-0")
            try await expectRefused(
                "/api/packages/strict/upload/not-a-package.zip", body: small,
                status: .badRequest, code: "invalidPackage", message: "<name>-<version>-<build>")
            try await expectRefused(
                "/api/packages/strict/upload/empty-0.1.0-h4616a5c_0.tar.bz2", body: small,
                status: .badRequest, code: "invalidPackage", message: ".conda")
            // Over uploads.maxSize: refused by Content-Length up front, and while streaming when it is absent.
            let large = try fixtureBytes("conda-package-handling", "mock-2.0.0-py37_1000.conda")
            #expect(large.readableBytes > 4096)
            var declared = basicAuth()
            declared[.contentLength] = String(large.readableBytes)
            try await expectRefused(
                "/api/packages/strict/upload/mock-2.0.0-py37_1000.conda", body: large, headers: declared,
                status: .contentTooLarge, code: "payloadTooLarge", message: "4096")
            try await expectRefused(
                "/api/packages/strict/upload/mock-2.0.0-py37_1000.conda", body: large,
                status: .contentTooLarge, code: "payloadTooLarge", message: "4096")
            try await expectRefused(
                "/api/packages/missing/upload/empty-0.1.0-h4616a5c_0.conda", body: small,
                status: .notFound, code: "notFound", message: "missing")

            #expect(await server.metadata.subdirs(feed: "strict").isEmpty)
            #expect(
                try await !server.blobs.contains(
                    sha256: try manifestEntry("rattler", "empty-0.1.0-h4616a5c_0.conda").sha256))
            #expect(
                try await !server.blobs.contains(
                    sha256: try manifestEntry("edge-cases", "test-package-0.1-0_copy.tar.bz2").sha256))
            #expect(try await client.repodataFilenames(feed: "strict", subdir: "noarch") == [])
        }
    }

    @Test func uploadsNeedAdmin() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("guarded")
            let body = try fixtureBytes("rattler", "empty-0.1.0-h4616a5c_0.conda")
            for uri in [
                "/api/packages/guarded/upload/empty-0.1.0-h4616a5c_0.conda",
                "/conda/guarded/noarch/empty-0.1.0-h4616a5c_0.conda",
            ] {
                try await client.execute(uri: uri, method: .put, body: body) { response in
                    #expect(response.status == .unauthorized, "\(uri)")
                    #expect(response.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#)
                }
                try await client.execute(uri: uri, method: .put, headers: basicAuth("Admin", "nope"), body: body) {
                    response in
                    #expect(response.status == .unauthorized, "\(uri)")
                    #expect(response.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#)
                }
            }
            #expect(await server.metadata.subdirs(feed: "guarded").isEmpty)
            #expect(try server.temporaryFiles().isEmpty)
        }
    }

    @Test func condaNativePutChecksTheSubdir() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("native")
            let file = "dummy-b-0.1.0-hb0f4dca_0.conda"
            try await client.execute(
                uri: "/conda/native/noarch/\(file)", method: .put, headers: basicAuth(),
                body: try fixtureBytes("pixi", file)
            ) { response in
                #expect(response.status == .badRequest)
                let failure = try json(response)
                #expect(failure["error"] == .string("invalidPackage"))
                #expect(failure["message"]?.stringValue?.contains("linux-64") == true)
            }
            #expect(try await !server.blobs.contains(sha256: try manifestEntry("pixi", file).sha256))
            try await client.execute(
                uri: "/conda/native/linux-64/\(file)", method: .put, headers: basicAuth(),
                body: try fixtureBytes("pixi", file)
            ) { response in
                #expect(response.status == .created)
                let body = try json(response)
                #expect(body["subdir"] == .string("linux-64"))
                #expect(body["status"] == .string("added"))
            }
            try await client.execute(
                uri: "/conda/native/linux-64/\(file)", method: .put, headers: basicAuth(),
                body: try fixtureBytes("pixi", file)
            ) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(
                uri: "/conda/nowhere/linux-64/\(file)", method: .put, headers: basicAuth(),
                body: try fixtureBytes("pixi", file)
            ) { response in
                #expect(response.status == .notFound)
            }
            #expect(try await client.repodataFilenames(feed: "native", subdir: "linux-64") == [file])
            #expect(
                await server.metadata.package(feed: "native", subdir: "linux-64", filename: file)?.uploadedBy == "Admin"
            )
            #expect(try server.temporaryFiles().isEmpty)
        }
    }

    @Test func versionsListing() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("listed")
            for file in [
                "package-0.1.0-hb0f4dca_0.conda", "package-0.2.0-hb0f4dca_0.conda", "package2-0.1.0-hb0f4dca_0.conda",
            ] {
                #expect(try await client.upload(feed: "listed", group: "pixi", file: file).status == .created)
            }
            #expect(
                try await client.upload(feed: "listed", group: "rattler", file: "empty-0.1.0-h4616a5c_0.conda").status
                    == .created)

            try await client.execute(uri: "/api/packages/listed/versions?name=package", method: .get) { response in
                #expect(response.status == .ok)
                let files = try #require(try json(response).arrayValue)
                #expect(
                    files.compactMap { $0["filename"]?.stringValue } == [
                        "package-0.1.0-hb0f4dca_0.conda", "package-0.2.0-hb0f4dca_0.conda",
                    ])
                let first = try #require(files.first)
                let expected = try manifestEntry("pixi", "package-0.1.0-hb0f4dca_0.conda")
                #expect(first["name"] == .string("package"))
                #expect(first["version"] == .string("0.1.0"))
                #expect(first["build"] == .string("hb0f4dca_0"))
                #expect(first["subdir"] == .string("linux-64"))
                #expect(first["sha256"] == .string(expected.sha256))
                #expect(first["size"] == .int(expected.size))
                #expect(first["md5"]?.stringValue?.count == 32)
                #expect(first["uploadedBy"] == .string("Admin"))
                let uploadedAt = try #require(first["uploadedAt"]?.stringValue)
                #expect(uploadedAt.hasSuffix("Z"))
                let date = try Date(uploadedAt, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
                #expect(abs(date.timeIntervalSinceNow) < 60)
            }
            try await client.execute(uri: "/api/packages/listed/versions", method: .get) { response in
                let files = try #require(try json(response).arrayValue)
                #expect(
                    files.compactMap { $0["filename"]?.stringValue } == [
                        "package-0.1.0-hb0f4dca_0.conda", "package-0.2.0-hb0f4dca_0.conda",
                        "package2-0.1.0-hb0f4dca_0.conda",
                        "empty-0.1.0-h4616a5c_0.conda",
                    ])
            }
            try await client.execute(uri: "/api/packages/listed/versions?name=nothing", method: .get) { response in
                #expect(response.status == .ok)
                let files = try json(response)
                #expect(files == .array([]))
            }
            try await client.execute(uri: "/api/packages/unknown/versions", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func deleteRemovesFromRepodataAtOnce() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("shrinking")
            for file in [
                "package3-0.1.0-abc.conda", "package3-0.2.0-abc.conda", "package3-0.3.0-abc.conda",
                "package4-0.1.0-hb0f4dca_0.conda",
            ] {
                #expect(try await client.upload(feed: "shrinking", group: "pixi", file: file).status == .created)
            }
            #expect(
                try await client.upload(feed: "shrinking", group: "quetz", file: "test-package-0.1-0.tar.bz2").status
                    == .created)
            #expect(
                try await client.upload(feed: "shrinking", group: "rattler", file: "test-package-0.1-0.tar.bz2").status
                    == .created)

            // By file name, in every subdir that has it.
            try await client.execute(
                uri: "/api/packages/shrinking/delete", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"filename":"test-package-0.1-0.tar.bz2"}"#)
            ) { response in
                #expect(response.status == .ok)
                let deleted = try #require(try json(response)["deleted"]?.arrayValue)
                #expect(deleted.compactMap { $0["subdir"]?.stringValue } == ["linux-64", "noarch"])
            }
            #expect(try await client.repodataFilenames(feed: "shrinking", subdir: "noarch") == [])
            #expect(
                try await client.repodataFilenames(feed: "shrinking", subdir: "linux-64")?.contains(
                    "test-package-0.1-0.tar.bz2") == false)

            // By name and version, as a form.
            var form = basicAuth()
            form[.contentType] = "application/x-www-form-urlencoded"
            try await client.execute(
                uri: "/api/packages/shrinking/delete", method: .post, headers: form,
                body: ByteBuffer(string: "name=package3&version=0.2.0")
            ) { response in
                #expect(response.status == .ok)
                let deleted = try #require(try json(response)["deleted"]?.arrayValue)
                #expect(deleted.compactMap { $0["filename"]?.stringValue } == ["package3-0.2.0-abc.conda"])
            }
            #expect(
                try await client.repodataFilenames(feed: "shrinking", subdir: "linux-64") == [
                    "package3-0.1.0-abc.conda", "package3-0.3.0-abc.conda", "package4-0.1.0-hb0f4dca_0.conda",
                ])
            #expect(
                try await !server.blobs.contains(sha256: try manifestEntry("pixi", "package3-0.2.0-abc.conda").sha256))
            // The file is no longer downloadable.
            try await client.execute(uri: "/conda/shrinking/linux-64/package3-0.2.0-abc.conda", method: .get) {
                response in
                #expect(response.status == .notFound)
            }

            // Nothing matches → 404, nothing changes.
            for body in [
                #"{"filename":"package3-0.2.0-abc.conda"}"#, #"{"name":"package3","version":"9.9"}"#,
                #"{"filename":"package4-0.1.0-hb0f4dca_0.conda","subdir":"noarch"}"#,
                #"{"name":"package3","version":"0.1.0","build":"xyz"}"#,
            ] {
                try await client.execute(
                    uri: "/api/packages/shrinking/delete", method: .post, headers: adminJSONHeaders(),
                    body: jsonBody(body)
                ) { response in
                    #expect(response.status == .notFound, "\(body)")
                }
            }
            // Neither a file name nor name + version → 400.
            try await client.execute(
                uri: "/api/packages/shrinking/delete", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"name":"package3"}"#)
            ) { response in
                #expect(response.status == .badRequest)
            }
            #expect(await server.metadata.packages(feed: "shrinking", subdir: "linux-64").count == 3)
        }
    }

    @Test func writerStopsAtTheLimit() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let chunks = (0..<10).map { index in ByteBuffer(repeating: UInt8(index), count: 1000) }
        let within = folder.appendingPathComponent("within.part")
        let written = try await UploadFileWriter.write(
            RequestBody(asyncSequence: chunks.async), to: within, limit: 10_000)
        #expect(written == 10_000)
        let data = try Data(contentsOf: within)
        #expect(data.count == 10_000)
        #expect(data[0] == 0 && data[9_999] == 9)

        let over = folder.appendingPathComponent("over.part")
        let error = await #expect(throws: SluiceError.self) {
            try await UploadFileWriter.write(RequestBody(asyncSequence: chunks.async), to: over, limit: 9_999)
        }
        #expect(error?.code == .payloadTooLarge)
    }
}

extension Array where Element: Sendable {
    /// The elements as an async sequence.
    fileprivate var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}
