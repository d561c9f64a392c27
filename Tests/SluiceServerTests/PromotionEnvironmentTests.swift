import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceServer

/// `POST /api/promotions/promote-environment` with explicit, conda-lock and pixi.lock files written from the real
/// fixture packages' hashes.
@Suite("Promotion of environment files")
struct PromotionEnvironmentTests {
    /// A fixture file with its hashes computed here (independently of Sluice).
    struct File {
        var group: String
        var subdir: String
        var filename: String
        var sha256: String
        var md5: String

        init(_ group: String, _ subdir: String, _ filename: String) throws {
            let bytes = try Data(contentsOf: Fixtures.package(group, filename))
            self.group = group
            self.subdir = subdir
            self.filename = filename
            self.sha256 = sha256Hex(bytes)
            self.md5 = Insecure.MD5.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        }

        var url: String { "https://conda.anaconda.org/dummy/\(subdir)/\(filename)" }
    }

    static func files() throws -> [File] {
        [
            try File("pixi", "linux-64", "dummy-a-0.1.0-hb0f4dca_0.conda"),
            try File("pixi", "linux-64", "dummy-b-0.1.0-hb0f4dca_0.conda"),
            try File("rattler", "noarch", "clobber-python-0.1.0-cpython.conda"),
        ]
    }

    /// `unapproved` holds every file of ``files()`` plus one that no environment names; `approved` is empty.
    static func seed(_ client: some TestClientProtocol) async throws {
        try await client.createFeed("unapproved")
        try await client.createFeed("approved")
        for file in try files() {
            #expect(
                try await client.upload(feed: "unapproved", group: file.group, file: file.filename).status == .created)
        }
        #expect(
            try await client.upload(feed: "unapproved", group: "pixi", file: "dummy-c-0.1.0-hb0f4dca_0.conda").status
                == .created)
    }

    static func explicit(_ files: [File], hash: (File) -> String) -> String {
        (["# This file may be used to create an environment using:", "# platform: linux-64", "@EXPLICIT"]
            + files.map { "\($0.url)#\(hash($0))" }).joined(separator: "\n") + "\n"
    }

    /// Checks that `approved` holds exactly `files` (rows and repodata) and that each was promoted once.
    static func expectApproved(
        _ server: TestServer, _ client: some TestClientProtocol, holds files: [File]
    ) async throws {
        for subdir in ["linux-64", "noarch"] {
            let expected = Set(files.filter { $0.subdir == subdir }.map(\.filename))
            let rows = try await server.store.packages(feed: "approved", subdir: subdir)
            #expect(Set(rows.map(\.filename)) == expected, "\(subdir)")
            for row in rows {
                #expect(row.sha256 == files.first { $0.filename == row.filename }?.sha256)
            }
            let served = try await client.repodataFilenames(feed: "approved", subdir: subdir) ?? []
            #expect(served == expected, "\(subdir) repodata")
        }
        let history = try await server.store.promotions(
            fromFeed: "unapproved", toFeed: "approved", package: nil, version: nil)
        #expect(history.count == files.count)
        #expect(Set(history.map(\.batch)).count == (files.isEmpty ? 0 : 1), "one transaction")
    }

    @Test("explicit file with md5 hashes (conda list --explicit --md5)")
    func explicitMD5() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            let files = try Self.files()
            let response = try await client.promoteEnvironment(
                environment: Self.explicit(files, hash: \.md5), comments: "env review")
            #expect(response.status == .ok)
            let body = try json(response)
            #expect(body["format"]?.stringValue == "explicit")
            #expect(body["promoted"]?.intValue == 3)
            let lines = try #require(body["lines"]?.arrayValue)
            #expect(lines.map { $0["line"]?.intValue } == [4, 5, 6])
            #expect(lines.allSatisfy { $0["status"]?.stringValue == "promoted" })
            try await Self.expectApproved(server, client, holds: files)
            #expect(
                try await server.store.promotions(fromFeed: nil, toFeed: nil, package: nil, version: nil)
                    .allSatisfy { $0.comments == "env review" })

            // Again: every line is already promoted; nothing new is written.
            let again = try await client.promoteEnvironment(environment: Self.explicit(files, hash: \.md5))
            #expect(again.status == .ok)
            #expect(try json(again)["alreadyPromoted"]?.intValue == 3)
            try await Self.expectApproved(server, client, holds: files)
        }
    }

    @Test("explicit file with sha256 hashes (bare and sha256: prefixed) and without hashes")
    func explicitSHA256() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            let files = try Self.files()
            var text = Self.explicit(Array(files.prefix(2)), hash: \.sha256)
            text += "\(files[2].url)#sha256:\(files[2].sha256)\n"
            let response = try await client.promoteEnvironment(environment: text)
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            #expect(try json(response)["promoted"]?.intValue == 3)
            try await Self.expectApproved(server, client, holds: files)
        }
        let plain = try await TestServer.make()
        try await plain.test { client in
            try await Self.seed(client)
            let files = try Self.files()
            let text = "@EXPLICIT\n" + files.map(\.url).joined(separator: "\n")
            #expect(try await client.promoteEnvironment(environment: text).status == .ok)
            try await Self.expectApproved(plain, client, holds: files)
        }
    }

    @Test("conda-lock file: conda entries promoted (a noarch file listed per platform counts once), pip skipped")
    func condaLock() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            let files = try Self.files()
            var yaml = """
                version: 1
                metadata:
                  platforms:
                  - linux-64
                  - osx-64
                package:

                """
            for (file, platform) in files.map({ ($0, "linux-64") }) + [(files[2], "osx-64")] {
                yaml += """
                    - name: \(PackageFilename(file.filename)!.name)
                      version: 0.1.0
                      manager: conda
                      platform: \(platform)
                      dependencies: {}
                      url: \(file.url)
                      hash:
                        md5: \(file.md5)
                        sha256: \(file.sha256)
                      category: main
                      optional: false

                    """
            }
            yaml += """
                - name: requests
                  version: 2.31.0
                  manager: pip
                  platform: linux-64
                  dependencies: {}
                  url: https://files.pythonhosted.org/packages/requests-2.31.0-py3-none-any.whl
                  hash:
                    sha256: 58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f
                  category: main
                  optional: false

                """
            let response = try await client.promoteEnvironment(environment: yaml)
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            let body = try json(response)
            #expect(body["format"]?.stringValue == "conda-lock")
            #expect(body["promoted"]?.intValue == 3)
            let lines = try #require(body["lines"]?.arrayValue)
            #expect(lines.count == 5)
            #expect(lines.filter { $0["status"]?.stringValue == "skipped" }.count == 1)
            #expect(lines.filter { $0["status"]?.stringValue == "promoted" }.count == 4)
            try await Self.expectApproved(server, client, holds: files)
        }
    }

    @Test("pixi.lock v6 and v5: conda entries promoted, pypi skipped")
    func pixiLock() async throws {
        for version in [6, 5] {
            let server = try await TestServer.make()
            try await server.test { client in
                try await Self.seed(client)
                let files = try Self.files()
                var yaml = """
                    version: \(version)
                    environments:
                      default:
                        channels:
                        - url: https://conda.anaconda.org/dummy/
                        packages:
                          linux-64:

                    """
                for file in files { yaml += "      - conda: \(file.url)\n" }
                yaml += "      - pypi: https://files.pythonhosted.org/packages/requests-2.31.0-py3-none-any.whl\n"
                yaml += "packages:\n"
                for file in files {
                    yaml += """
                        - conda: \(file.url)
                          sha256: \(file.sha256)
                          md5: \(file.md5)
                          depends: []
                          license: MIT
                          size: 1000

                        """
                }
                yaml += """
                    - pypi: https://files.pythonhosted.org/packages/requests-2.31.0-py3-none-any.whl
                      name: requests
                      version: 2.31.0

                    """
                let response = try await client.promoteEnvironment(environment: yaml)
                #expect(response.status == .ok, "v\(version): \(String(buffer: response.body))")
                let body = try json(response)
                #expect(body["format"]?.stringValue == "pixi.lock")
                #expect(body["promoted"]?.intValue == 3)
                #expect(body["lines"]?.arrayValue?.filter { $0["status"]?.stringValue == "skipped" }.count == 1)
                try await Self.expectApproved(server, client, holds: files)
            }
        }
    }

    @Test("a line that does not resolve or has another checksum: 422 with a per-line report, nothing promoted")
    func allOrNothing() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            let files = try Self.files()
            let text =
                Self.explicit(files, hash: \.md5)
                + "https://conda.anaconda.org/dummy/linux-64/dummy-z-0.1.0-hb0f4dca_0.conda\n"
                + "https://conda.anaconda.org/dummy/linux-64/dummy-c-0.1.0-hb0f4dca_0.conda#\(files[0].sha256)\n"
            let response = try await client.promoteEnvironment(environment: text)
            #expect(response.status == .unprocessableContent)
            let body = try json(response)
            #expect(body["error"]?.stringValue == "invalidInput")
            #expect(body["message"]?.stringValue?.contains("2 line(s)") == true)
            let lines = try #require(body["lines"]?.arrayValue)
            #expect(
                lines.map { $0["status"]?.stringValue } == [
                    "resolved", "resolved", "resolved", "notFound", "checksumMismatch",
                ])
            #expect(lines[3]["line"]?.intValue == 7 && lines[3]["message"]?.stringValue?.contains("dummy-z") == true)
            try await Self.expectApproved(server, client, holds: [])
        }
    }

    @Test("dry run reports and changes nothing; a conflicting file in the target fails the whole file")
    func dryRunAndConflict() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            let files = try Self.files()
            let response = try await client.promoteEnvironment(
                environment: Self.explicit(files, hash: \.sha256), dryRun: true)
            #expect(response.status == .ok)
            let body = try json(response)
            #expect(body["dryRun"] == .bool(true))
            #expect(body["promoted"]?.intValue == 3)
            #expect(body["lines"]?.arrayValue?.allSatisfy { $0["status"]?.stringValue == "wouldPromote" } == true)
            try await Self.expectApproved(server, client, holds: [])

            // The approved feed holds other bytes under dummy-b's name (dummy-c's row, renamed).
            var clash = try #require(
                try await server.store.package(
                    feed: "unapproved", subdir: "linux-64", filename: "dummy-c-0.1.0-hb0f4dca_0.conda"))
            clash.feed = "approved"
            clash.filename = files[1].filename
            _ = try await server.store.addPackage(clash, overwrite: false)
            let conflict = try await client.promoteEnvironment(environment: Self.explicit(files, hash: \.sha256))
            #expect(conflict.status == .unprocessableContent)
            let lines = try #require(try json(conflict)["lines"]?.arrayValue)
            #expect(lines.map { $0["status"]?.stringValue } == ["resolved", "conflict", "resolved"])
            #expect(try await server.store.promotions(fromFeed: nil, toFeed: nil, package: nil, version: nil).isEmpty)
        }
    }

    @Test("malformed files are a 400 naming the line")
    func malformed() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            let cases: [(String, String)] = [
                (
                    "@EXPLICIT\nhttps://conda.anaconda.org/dummy/linux-64/dummy-a-0.1.0-hb0f4dca_0.conda\nnot a url\n",
                    "Line 3"
                ),
                ("@EXPLICIT\nhttps://conda.anaconda.org/dummy/linux-64/dummy-a-0.1.0-hb0f4dca_0.conda#abc\n", "Line 2"),
                ("@EXPLICIT\nhttps://conda.anaconda.org/dummy/linux-64/readme.txt\n", "Line 2"),
                (
                    "version: 6\npackages:\n- conda: https://x/linux-64/dummy-a-0.1.0-hb0f4dca_0.conda\n  sha256: xyz\n",
                    "Line 3"
                ),
                ("package:\n- name: a\n  manager: conda\n", "Line 2"),
                ("just: [unclosed\n", "not valid YAML"),
                ("@EXPLICIT\n", "no conda package"),
            ]
            for (text, mention) in cases {
                let response = try await client.promoteEnvironment(environment: text)
                #expect(response.status == .badRequest, "\(text)")
                let message = try json(response)["message"]?.stringValue ?? ""
                #expect(message.contains(mention), "\(text) → \(message)")
            }
            try await Self.expectApproved(server, client, holds: [])
        }
    }
}
