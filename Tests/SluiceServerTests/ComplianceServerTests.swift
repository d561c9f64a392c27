import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import Logging
import NIOCore
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceServer

/// Compliance through the router: the real Flask advisory (GHSA-562c-5r94-xh97 / PYSEC-2018-66, CVE-2018-1000656,
/// fixed in 0.12.3) against the real `flask-0.11.1-py_0.tar.bz2` and a fixed build made from it.
@Suite("Compliance: blocking feeds, downloads, promotions and the API")
struct ComplianceServerTests {
    static let vulnerable = "flask-0.11.1-py_0.tar.bz2"
    static let fixed = "flask-0.12.3-py_0.tar.bz2"
    static let ghsa = "GHSA-562c-5r94-xh97"

    /// The OSV fixture files of the core tests.
    static var osvFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SluiceCoreTests/Fixtures/osv", isDirectory: true)
    }

    /// Both Flask advisories as one JSON array (the GHSA one carries the CVSS vector, HIGH).
    static func advisoriesJSON() throws -> String {
        let files = ["GHSA-562c-5r94-xh97.json", "PYSEC-2018-66.json"].map {
            osvFolder.appendingPathComponent($0)
        }
        return "[" + (try files.map { try String(contentsOf: $0, encoding: .utf8) }).joined(separator: ",") + "]"
    }

    /// A fixed Flask build with the structure of the real one: every member of `flask-0.11.1-py_0.tar.bz2`, with
    /// `info/index.json` saying version 0.12.3.
    static func fixedFlask() throws -> ByteBuffer {
        let original = try Data(contentsOf: Fixtures.package("conda-index", vulnerable))
        let tar = try Bzip2.decompress(original, maxOutputSize: 1 << 24)
        var reader = TarReader(source: BytesSource(bytes: Array(tar)))
        var members: [(String, [UInt8])] = []
        while let entry = try reader.next() {
            var contents = try reader.readContents(maxSize: 1 << 20)
            if entry.path == "info/index.json" {
                let text = String(decoding: contents, as: UTF8.self)
                #expect(text.contains(#""version": "0.11.1""#))
                contents = Array(
                    text.replacingOccurrences(of: #""version": "0.11.1""#, with: #""version": "0.12.3""#).utf8)
            }
            members.append((entry.path, contents))
        }
        return ByteBuffer(bytes: try Bzip2.compress(Data(ustar(members))))
    }

    /// Uploads both Flask builds to `feed`.
    static func uploadFlask(_ client: any TestClientProtocol, feed: String) async throws {
        let first = try await client.upload(feed: feed, group: "conda-index", file: vulnerable)
        #expect(first.status == .created)
        let second = try await client.execute(
            uri: "/api/packages/\(feed)/upload/\(fixed)", method: .put, headers: basicAuth(), body: try fixedFlask())
        #expect(second.status == .created, "\(String(buffer: second.body))")
    }

    static func importAdvisories(_ client: any TestClientProtocol) async throws -> JSONValue {
        let response = try await client.execute(
            uri: "/api/compliance/advisories/import", method: .post, headers: adminJSONHeaders(),
            body: jsonBody(try advisoriesJSON()))
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try json(response)
    }

    static func setBlocking(_ client: any TestClientProtocol, feed: String, _ enabled: Bool) async throws -> JSONValue {
        let response = try await client.execute(
            uri: "/api/compliance/feeds/\(feed)/blocking", method: .post, headers: adminJSONHeaders(),
            body: jsonBody(#"{"enabled":\#(enabled)}"#))
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try json(response)
    }

    @Test("blocking hides the vulnerable build from every repodata variant and the shards, and refuses its download")
    func blockingHostedFeed() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("main")
            try await Self.uploadFlask(client, feed: "main")
            let imported = try await Self.importAdvisories(client)
            #expect(imported["record"]?["added"]?.intValue == 2)
            #expect(imported["changes"]?["blocked"]?.arrayValue == [], "no feed blocks yet")
            #expect(try await visible(client, feed: "main") == [Self.vulnerable, Self.fixed])

            // The compliance view of the vulnerable build, before blocking: noncompliant, with the advisory.
            let report = try json(
                try await client.execute(
                    uri: "/api/compliance/packages/main/flask?version=0.11.1", method: .get))
            let build = try #require(report["builds"]?.arrayValue?.first)
            #expect(report["builds"]?.arrayValue?.count == 1)
            #expect(build["outcome"]?.stringValue == "noncompliant")
            #expect(build["blocked"]?.boolValue == true)
            let finding = try #require(build["vulnerabilities"]?.arrayValue?.first)
            let ids = finding["advisoryIDs"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(ids.contains(Self.ghsa) && ids.contains("PYSEC-2018-66"))
            #expect(finding["aliases"]?.arrayValue?.contains(.string("CVE-2018-1000656")) == true)
            #expect(finding["severity"]?.stringValue == "high")
            #expect((finding["cvssScore"]?.complianceTestNumber ?? 0) >= 7)
            #expect(finding["fixedVersions"]?.arrayValue == [.string("0.12.3")])
            #expect(build["license"]?["original"]?.stringValue == "BSD")
            #expect(build["license"]?["spdx"]?.stringValue == "BSD-3-Clause")
            let fixedReport = try json(
                try await client.execute(uri: "/api/compliance/packages/main/flask?version=0.12.3", method: .get))
            #expect(fixedReport["builds"]?.at(0)?["outcome"]?.stringValue == "compliant")

            // Blocking on: the vulnerable build disappears everywhere, the fixed one stays.
            let on = try await Self.setBlocking(client, feed: "main", true)
            #expect(on["changes"]?["blocked"]?.arrayValue == [.string("main/noarch/\(Self.vulnerable)")])
            #expect(try await visible(client, feed: "main") == [Self.fixed])

            let refused = try await client.execute(uri: "/conda/main/noarch/\(Self.vulnerable)", method: .get)
            #expect(refused.status == .forbidden)
            let body = try json(refused)
            #expect(body["error"]?.stringValue == "forbidden")
            #expect(body["packages"]?.at(0)?["advisories"]?.arrayValue?.contains(.string(Self.ghsa)) == true)
            #expect(body["message"]?.stringValue?.contains("CVE-2018-1000656") == true)
            #expect(body["exceptionHint"]?.stringValue?.contains("sluice compliance exceptions add flask") == true)
            let head = try await client.execute(uri: "/conda/main/noarch/\(Self.vulnerable)", method: .head)
            #expect(head.status == .forbidden)
            let allowed = try await client.execute(uri: "/conda/main/noarch/\(Self.fixed)", method: .get)
            #expect(allowed.status == .ok)

            let noncompliant = try json(
                try await client.execute(uri: "/api/compliance/feeds/main/noncompliant", method: .get))
            #expect(noncompliant["blocking"]?.boolValue == true)
            #expect(noncompliant["packages"]?.arrayValue?.map { $0["filename"] } == [.string(Self.vulnerable)])

            // An exception brings it back; deleting it blocks it again.
            let created = try await client.execute(
                uri: "/api/compliance/exceptions/create", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(
                    #"{"package":"flask","versions":"0.11.*","feed":"main","reason":"internal use only","expires":"2099-01-01"}"#
                ))
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let exception = try json(created)
            #expect(exception["changes"]?["unblocked"]?.arrayValue == [.string("main/noarch/\(Self.vulnerable)")])
            let exceptionID = try #require(exception["exception"]?["id"]?.intValue)
            #expect(try await visible(client, feed: "main") == [Self.vulnerable, Self.fixed])
            #expect(
                try await client.execute(uri: "/conda/main/noarch/\(Self.vulnerable)", method: .get).status == .ok)
            let covered = try json(
                try await client.execute(uri: "/api/compliance/packages/main/flask?version=0.11.1", method: .get))
            #expect(covered["builds"]?.at(0)?["effectiveOutcome"]?.stringValue == "compliant")
            #expect(covered["builds"]?.at(0)?["exception"]?["reason"]?.stringValue == "internal use only")

            let deleted = try await client.execute(
                uri: "/api/compliance/exceptions/delete/\(exceptionID)", method: .delete, headers: basicAuth())
            #expect(deleted.status == .ok)
            #expect(try await visible(client, feed: "main") == [Self.fixed])

            // Blocking off: everything is back.
            let off = try await Self.setBlocking(client, feed: "main", false)
            #expect(off["changes"]?["unblocked"]?.arrayValue == [.string("main/noarch/\(Self.vulnerable)")])
            #expect(try await visible(client, feed: "main") == [Self.vulnerable, Self.fixed])
            #expect(
                try await client.execute(uri: "/conda/main/noarch/\(Self.vulnerable)", method: .get).status == .ok)

            // The event log says what changed.
            let events = try json(
                try await client.execute(uri: "/api/events?limit=50", method: .get, headers: basicAuth()))
            let items = events.arrayValue ?? []
            let switched = items.first {
                $0["kind"]?.stringValue == "compliance-blocking-changed"
                    && $0["detail"]?.stringValue?.contains("turned on") == true
            }
            #expect(switched?["detail"]?.stringValue?.contains("Now blocked: main/noarch/\(Self.vulnerable)") == true)
            #expect(switched?["actor"]?.stringValue == "Admin")
            let kinds = Set(items.compactMap { $0["kind"]?.stringValue })
            #expect(
                kinds.isSuperset(of: [
                    "compliance-advisories-imported", "compliance-exception-added", "compliance-exception-deleted",
                ]))
        }
    }

    @Test("changes need administer; reads need view")
    func authorization() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("main")
            var json = HTTPFields()
            json[.contentType] = "application/json"
            let anonymousImport = try await client.execute(
                uri: "/api/compliance/advisories/import", method: .post, headers: json,
                body: jsonBody(try Self.advisoriesJSON()))
            #expect(anonymousImport.status == .unauthorized)
            let anonymousSwitch = try await client.execute(
                uri: "/api/compliance/feeds/main/blocking", method: .post, headers: json,
                body: jsonBody(#"{"enabled":true}"#))
            #expect(anonymousSwitch.status == .unauthorized)
            #expect(try await server.metadata.blocksNoncompliant(feed: "main") == false)
            // Anonymous may view every feed on a default install, so reads work.
            #expect(try await client.execute(uri: "/api/compliance/advisories/status", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/api/compliance/feeds/main/policy", method: .get).status == .ok)
            #expect(
                try await client.execute(uri: "/api/compliance/feeds/nope/noncompliant", method: .get).status
                    == .notFound)
        }
        let privateServer = try await TestServer.make(anonymousView: false)
        try await privateServer.test { client in
            try await client.createFeed("main")
            #expect(
                try await client.execute(uri: "/api/compliance/feeds/main/noncompliant", method: .get).status
                    == .unauthorized)
            #expect(
                try await client.execute(uri: "/api/compliance/advisories/status", method: .get).status
                    == .unauthorized)
            #expect(
                try await client.execute(
                    uri: "/api/compliance/advisories/status", method: .get, headers: basicAuth()
                ).status == .ok)
        }
    }

    @Test("advisory status, list and search, and invalid input")
    func advisoriesAPI() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            _ = try await Self.importAdvisories(client)
            let again = try await Self.importAdvisories(client)
            #expect(again["record"]?["unchanged"]?.intValue == 2)
            let status = try json(try await client.execute(uri: "/api/compliance/advisories/status", method: .get))
            #expect(status["count"]?.intValue == 2)
            #expect(status["imports"]?.arrayValue?.count == 2)
            #expect(status["imports"]?.at(0)?["importedBy"]?.stringValue == "Admin")
            let search = try json(
                try await client.execute(uri: "/api/compliance/advisories?q=cve-2018-1000656", method: .get))
            #expect(Set(search.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []) == [Self.ghsa, "PYSEC-2018-66"])
            let ghsa = search.arrayValue?.first { $0["id"]?.stringValue == Self.ghsa }
            #expect(ghsa?["severity"]?.stringValue == "high")
            #expect(ghsa?["affected"]?.at(0)?["fixed"]?.arrayValue == [.string("0.12.3")])
            let none = try json(try await client.execute(uri: "/api/compliance/advisories?q=django", method: .get))
            #expect(none.arrayValue == [])

            let malformed = try await client.execute(
                uri: "/api/compliance/advisories/import", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"summary":"no id"}"#))
            #expect(malformed.status == .badRequest)
            let badPolicy = try await client.execute(
                uri: "/api/compliance/policy", method: .put, headers: adminJSONHeaders(),
                body: jsonBody(#"{"vulnerabilityNoncompliantAt":"extreme"}"#))
            #expect(badPolicy.status == .badRequest)
            let badException = try await client.execute(
                uri: "/api/compliance/exceptions/create", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"package":"flask","versions":">=>1","reason":"r"}"#))
            #expect(badException.status == .badRequest)
            #expect(try await server.metadata.complianceExceptions().isEmpty)
        }
    }

    @Test("a zip of OSV files imports through the API")
    func zipImport() async throws {
        let server = try await TestServer.make()
        let zip = storedZip([
            (
                "osv/GHSA-562c-5r94-xh97.json",
                Array(try Data(contentsOf: Self.osvFolder.appendingPathComponent("GHSA-562c-5r94-xh97.json")))
            ),
            (
                "osv/PYSEC-2018-66.json",
                Array(try Data(contentsOf: Self.osvFolder.appendingPathComponent("PYSEC-2018-66.json")))
            ),
            ("osv/broken.json", Array("{not json".utf8)),
        ])
        try await server.test { client in
            var headers = basicAuth()
            headers[.contentType] = "application/zip"
            let response = try await client.execute(
                uri: "/api/compliance/advisories/import?source=osv-mirror", method: .post, headers: headers,
                body: ByteBuffer(bytes: zip))
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            let summary = try json(response)
            #expect(summary["record"]?["added"]?.intValue == 2)
            #expect(summary["record"]?["skipped"]?.intValue == 1)
            #expect(summary["record"]?["source"]?.stringValue == "osv-mirror")
            #expect(summary["skippedFiles"]?.at(0)?.stringValue?.contains("broken.json") == true)
            #expect(try server.temporaryFiles().isEmpty, "the uploaded zip is removed")
        }
    }

    @Test("promotion of a noncompliant package is refused with the reasons, then allowed by an exception")
    func promotion() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("dev")
            try await client.createFeed("prod")
            try await Self.uploadFlask(client, feed: "dev")
            _ = try await Self.importAdvisories(client)
            let promote = #"{"fromFeed":"dev","toFeed":"prod","name":"flask","version":"0.11.1"}"#
            let refused = try await client.execute(
                uri: "/api/promotions/promote", method: .post, headers: adminJSONHeaders(), body: jsonBody(promote))
            #expect(refused.status == .conflict)
            let body = try json(refused)
            #expect(body["error"]?.stringValue == "noncompliant")
            #expect(body["packages"]?.at(0)?["advisories"]?.arrayValue?.contains(.string(Self.ghsa)) == true)
            #expect(body["packages"]?.at(0)?["reasons"]?.at(0)?.stringValue?.contains("fixed in 0.12.3") == true)
            #expect(try await server.metadata.packages(feed: "prod", subdir: "noarch").isEmpty)

            // The fixed build is compliant and goes through.
            let fixed = try await client.execute(
                uri: "/api/promotions/promote", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"fromFeed":"dev","toFeed":"prod","name":"flask","version":"0.12.3"}"#))
            #expect(fixed.status == .ok)

            // An exception on another feed does not help; one on the target does.
            for (feed, expected) in [("dev", HTTPResponse.Status.conflict), ("prod", .ok)] {
                let created = try await client.execute(
                    uri: "/api/compliance/exceptions/create", method: .post, headers: adminJSONHeaders(),
                    body: jsonBody(#"{"package":"flask","versions":"0.11.1","feed":"\#(feed)","reason":"legacy app"}"#))
                #expect(created.status == .created)
                let attempt = try await client.execute(
                    uri: "/api/promotions/promote", method: .post, headers: adminJSONHeaders(),
                    body: jsonBody(promote))
                #expect(attempt.status == expected, "exception on \(feed)")
            }
            let promoted = try await server.metadata.packages(feed: "prod", subdir: "noarch").map(\.filename)
            #expect(Set(promoted) == [Self.vulnerable, Self.fixed])
        }
    }

    @Test("licence block list, feed policies and name mappings")
    func policies() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("main")
            try await Self.uploadFlask(client, feed: "main")
            _ = try await Self.setBlocking(client, feed: "main", true)
            #expect(try await visible(client, feed: "main") == [Self.vulnerable, Self.fixed], "no advisories yet")

            // The global block list hides both builds (BSD → BSD-3-Clause).
            let blocked = try await client.execute(
                uri: "/api/compliance/policy", method: .put, headers: adminJSONHeaders(),
                body: jsonBody(#"{"blockedLicenses":["BSD-3-Clause"]}"#))
            #expect(blocked.status == .ok)
            #expect(try json(blocked)["changes"]?["blocked"]?.arrayValue?.count == 2)
            #expect(try await visible(client, feed: "main") == [])
            let refused = try await client.execute(uri: "/conda/main/noarch/\(Self.fixed)", method: .get)
            #expect(refused.status == .forbidden)
            let rule = try json(refused)["packages"]?.at(0)?["licenseRules"]?.at(0)?.stringValue ?? ""
            #expect(rule.contains("BSD-3-Clause is on the block list"))
            let global = try json(try await client.execute(uri: "/api/compliance/policy", method: .get))
            #expect(global["resolved"]?["blockedLicenses"]?.arrayValue == [.string("BSD-3-Clause")])

            _ = try await client.execute(
                uri: "/api/compliance/policy", method: .put, headers: adminJSONHeaders(), body: jsonBody("{}"))
            _ = try await Self.importAdvisories(client)
            #expect(try await visible(client, feed: "main") == [Self.fixed])

            // A feed policy that never blocks on vulnerabilities brings the vulnerable build back; deleting it
            // restores the global policy.
            let relaxed = try await client.execute(
                uri: "/api/compliance/feeds/main/policy", method: .put, headers: adminJSONHeaders(),
                body: jsonBody(#"{"vulnerabilityNoncompliantAt":"never"}"#))
            #expect(relaxed.status == .ok)
            #expect(try await visible(client, feed: "main") == [Self.vulnerable, Self.fixed])
            let feedPolicy = try json(try await client.execute(uri: "/api/compliance/feeds/main/policy", method: .get))
            #expect(feedPolicy["resolved"]?["vulnerabilityNoncompliantAt"]?.stringValue == "never")
            let removed = try await client.execute(
                uri: "/api/compliance/feeds/main/policy", method: .delete, headers: basicAuth())
            #expect(removed.status == .ok)
            #expect(try await visible(client, feed: "main") == [Self.fixed])

            // A name mapping makes a PyPI advisory apply to another conda name (here flask → itself is implicit;
            // map PyPI "flask" to conda "flask-legacy", which the feed does not hold: nothing changes, but it lists).
            let mapped = try await client.execute(
                uri: "/api/compliance/mappings/add", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"pypiName":"Flask","condaName":"flask-legacy"}"#))
            #expect(mapped.status == .created)
            let mappings = try json(try await client.execute(uri: "/api/compliance/mappings", method: .get))
            #expect(mappings.arrayValue?.first?["condaName"]?.stringValue == "flask-legacy")
            let unmapped = try await client.execute(
                uri: "/api/compliance/mappings/delete", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"pypiName":"Flask","condaName":"flask-legacy"}"#))
            #expect(unmapped.status == .ok)
            let missing = try await client.execute(
                uri: "/api/compliance/mappings/delete", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"pypiName":"Flask","condaName":"flask-legacy"}"#))
            #expect(missing.status == .notFound)
        }
    }

    @Test("an expiring exception is republished away when it expires")
    func exceptionExpiry() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("main")
            try await Self.uploadFlask(client, feed: "main")
            _ = try await Self.importAdvisories(client)
            _ = try await Self.setBlocking(client, feed: "main", true)
            let service = try #require(server.services.compliance)
            let expires = Date().addingTimeInterval(1.5)
            _ = try await service.addException(
                ComplianceException(feed: "main", packagePattern: "flask", reason: "short", expiresAt: expires),
                actor: "Admin")
            #expect(try await visible(client, feed: "main") == [Self.vulnerable, Self.fixed])
            #expect(try await service.checkExpiredExceptions().isEmpty)
            try await Task.sleep(for: .milliseconds(Int64(max(0, expires.timeIntervalSinceNow) * 1000) + 200))
            let expired = try await service.checkExpiredExceptions()
            #expect(expired.count == 1)
            #expect(try await visible(client, feed: "main") == [Self.fixed])
            let events = try await server.metadata.events(
                limit: 10, beforeID: nil, kind: "compliance-exception-expired")
            #expect(events.count == 1)
        }
    }

    @Test("advisories are polled from the configured URL")
    func polling() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.setFile(
            "mirror/flask.json",
            contents: try Data(contentsOf: Self.osvFolder.appendingPathComponent("GHSA-562c-5r94-xh97.json")))
        let url = upstream.url("mirror/flask.json")
        let server = try await TestServer.make { configuration in
            configuration.compliance.advisoryURL = url
            configuration.compliance.pollMinutes = 60
        }
        let service = try #require(server.services.compliance)
        let summary = try #require(try await service.pollAdvisories())
        #expect(summary.record.added == 1)
        #expect(summary.record.source == url)
        #expect(try await server.metadata.advisory(id: Self.ghsa) != nil)
        await upstream.stop()
    }

    @Test("a proxy feed hides blocked upstream records and refuses them without fetching")
    func proxyFeed() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.metadata.createUser(
            User(name: "Admin", passwordHash: Bcrypt.hash(TestServer.adminPassword, cost: 4)))
        try await SecurityBootstrap.installDefaults(
            security: try #require(harness.metadata as? MemoryMetadataStore), logger: Logger(label: "sluice.test"))
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addProxyFeed(connectors: ["up"])
        let conda = "zlib-1.2.11-h7b6447c_3.conda"
        try await harness.test { client in
            #expect(try await client.repodataFilenames(feed: "proxy", subdir: "linux-64")?.contains(conda) == true)
            _ = try await Self.setBlocking(client, feed: "proxy", true)
            let policy = try await client.execute(
                uri: "/api/compliance/policy", method: .put, headers: adminJSONHeaders(),
                body: jsonBody(#"{"blockedLicenses":["Zlib"]}"#))
            #expect(policy.status == .ok)
            #expect(
                try json(policy)["changes"]?["blocked"]?.arrayValue?.contains(.string("proxy/linux-64/\(conda)"))
                    == true)
            // libgcc-ng (GPL) stays; both zlib files (license "zlib" → Zlib) are gone.
            #expect(
                try await client.repodataFilenames(feed: "proxy", subdir: "linux-64")
                    == ["libgcc-ng-8.2.0-hdf63c60_1.tar.bz2"])
            let refused = try await client.execute(uri: "/conda/proxy/linux-64/\(conda)", method: .get)
            #expect(refused.status == .forbidden)
            #expect(upstream.requestCount("linux-64/\(conda)") == 0, "a blocked file is never fetched")

            let exception = try await client.execute(
                uri: "/api/compliance/exceptions/create", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"package":"zlib","reason":"system library"}"#))
            #expect(exception.status == .created)
            #expect(try await client.repodataFilenames(feed: "proxy", subdir: "linux-64")?.contains(conda) == true)
            let download = try await client.execute(uri: "/conda/proxy/linux-64/\(conda)", method: .get)
            #expect(download.status == .ok)
        }
        await upstream.stop()
    }
}

/// The file names of `feed`'s noarch subdir, checked to be the same in `repodata.json`, `repodata.json.zst`,
/// `current_repodata.json` and the shards (flask's shard; no shard when nothing is listed).
private func visible(
    _ client: any TestClientProtocol, feed: String, sourceLocation: SourceLocation = #_sourceLocation
) async throws -> [String] {
    func names(_ document: JSONValue) -> Set<String> {
        Set(
            (document["packages"]?.objectValue?.keys.map { $0 } ?? [])
                + (document["packages.conda"]?.objectValue?.keys.map { $0 } ?? []))
    }
    let base = "/conda/\(feed)/noarch/"
    let plain = names(try json(try await client.execute(uri: base + "repodata.json", method: .get)))
    let zst = try await client.execute(uri: base + "repodata.json.zst", method: .get)
    let fromZst = names(
        try JSONValue.parse(Array(try Zstd.decompress(Data(zst.body.readableBytesView), maxOutputSize: 1 << 24))))
    let current = names(try json(try await client.execute(uri: base + "current_repodata.json", method: .get)))
    #expect(fromZst == plain, sourceLocation: sourceLocation)
    // current_repodata keeps the newest version per name only, so it must be the newest of what is visible.
    #expect(current.isSubset(of: plain), sourceLocation: sourceLocation)
    #expect(current.isEmpty == plain.isEmpty, sourceLocation: sourceLocation)
    let indexResponse = try await client.execute(uri: base + "repodata_shards.msgpack.zst", method: .get)
    let index = try MessagePackReader.decode(
        try Zstd.decompress(Data(indexResponse.body.readableBytesView), maxOutputSize: 1 << 24))
    var sharded = Set<String>()
    for (_, hash) in index["shards"]?.mapValue ?? [:] {
        let hex = HexCoding.encode(try #require(hash.binaryValue))
        let shard = try await client.execute(uri: base + "shards/\(hex).msgpack.zst", method: .get)
        let decoded = try MessagePackReader.decode(
            try Zstd.decompress(Data(shard.body.readableBytesView), maxOutputSize: 1 << 24))
        for section in ["packages", "packages.conda"] {
            sharded.formUnion(decoded[section]?.mapValue?.keys.map { $0 } ?? [])
        }
    }
    #expect(sharded == plain, "the shards list what repodata.json lists", sourceLocation: sourceLocation)
    return plain.sorted()
}

/// A `ByteSource` over bytes in memory.
private struct BytesSource: ByteSource {
    var bytes: [UInt8]
    var position = 0

    mutating func read(upTo maxCount: Int) throws(SluiceError) -> [UInt8] {
        let end = min(bytes.count, position + maxCount)
        defer { position = end }
        return Array(bytes[position..<end])
    }
}

/// A ustar archive of regular files.
private func ustar(_ members: [(String, [UInt8])]) -> [UInt8] {
    var output: [UInt8] = []
    for (name, contents) in members {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int) {
            for (index, byte) in text.utf8.enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, length: Int) {
            let digits = String(value, radix: 8)
            put(String(repeating: "0", count: length - 1 - digits.count) + digits, at: offset)
        }
        put(name, at: 0)
        octal(0o644, at: 100, length: 8)
        octal(0, at: 108, length: 8)
        octal(0, at: 116, length: 8)
        octal(contents.count, at: 124, length: 12)
        octal(1_500_000_000, at: 136, length: 12)
        header[156] = UInt8(ascii: "0")
        put("ustar", at: 257)
        put("00", at: 263)
        for index in 148..<156 { header[index] = 0x20 }
        let sum = header.reduce(0) { $0 + Int($1) }
        octal(sum, at: 148, length: 7)
        output += header + contents
        output += [UInt8](repeating: 0, count: (512 - contents.count % 512) % 512)
    }
    return output + [UInt8](repeating: 0, count: 1024)
}

/// A zip of stored (uncompressed) members.
private func storedZip(_ members: [(String, [UInt8])]) -> [UInt8] {
    func le16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF)] }
    func le32(_ value: UInt32) -> [UInt8] { le16(Int(value & 0xFFFF)) + le16(Int(value >> 16)) }
    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
    var output: [UInt8] = []
    var directory: [UInt8] = []
    for (name, data) in members {
        let offset = UInt32(output.count)
        let crc = crc32(data)
        let nameBytes = Array(name.utf8)
        let size = UInt32(data.count)
        output += le32(0x0403_4b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21)
        output += le32(crc) + le32(size) + le32(size) + le16(nameBytes.count) + le16(0) + nameBytes + data
        directory += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21)
        directory += le32(crc) + le32(size) + le32(size) + le16(nameBytes.count) + le16(0) + le16(0) + le16(0)
        directory += le16(0) + le32(0) + le32(offset) + nameBytes
    }
    let directoryOffset = UInt32(output.count)
    output += directory
    output += le32(0x0605_4b50) + le16(0) + le16(0) + le16(members.count) + le16(members.count)
    output += le32(UInt32(directory.count)) + le32(directoryOffset) + le16(0)
    return output
}

extension JSONValue {
    /// The element at `index` of an array, nil otherwise (test helper).
    fileprivate func at(_ index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }

    /// A JSON number as a Double (test helper).
    fileprivate var complianceTestNumber: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
}
