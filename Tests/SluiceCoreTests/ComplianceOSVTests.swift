import Foundation
import SluiceTesting
import Testing

@testable import SluiceCore

/// OSV fixtures of this test target (real advisories written in the OSV shape).
enum OSVFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/osv", isDirectory: true)

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static func advisory(_ name: String) throws -> OSVAdvisory {
        let advisories = try OSVAdvisory.parse(Array(try Data(contentsOf: url(name))))
        try #require(advisories.count == 1)
        return advisories[0]
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-osv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `/usr/bin/env <arguments>` in `directory` and fails on a non-zero exit.
    static func run(_ arguments: [String], in directory: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(arguments) failed")
    }
}

@Suite("Compliance: OSV advisories")
struct ComplianceOSVTests {
    @Test func parsesTheRealFlaskGitHubAdvisory() throws {
        let advisory = try OSVFixtures.advisory("GHSA-562c-5r94-xh97.json")
        #expect(advisory.id == "GHSA-562c-5r94-xh97")
        #expect(advisory.aliases == ["CVE-2018-1000656"])
        #expect(advisory.summary == "Flask is vulnerable to Denial of Service via incorrect encoding of JSON data")
        #expect(advisory.details.hasPrefix("The Pallets Project flask version Before 0.12.3"))
        #expect(advisory.severity.map(\.type) == ["CVSS_V3", "CVSS_V4"])
        #expect(advisory.cvssScore == 7.5)
        #expect(advisory.databaseSeverity == "HIGH")
        #expect(advisory.severityLevel == .high)
        #expect(advisory.affected.count == 1)
        let affected = advisory.affected[0]
        #expect(affected.ecosystem == "PyPI")
        #expect(affected.name == "flask")
        #expect(
            affected.ranges == [
                OSVRange(type: "ECOSYSTEM", events: [.init(.introduced, "0"), .init(.fixed, "0.12.3")])
            ])
        #expect(affected.fixedVersions == ["0.12.3"])
        #expect(advisory.references.count == 4)
        let published = try #require(advisory.published)
        #expect(published == Date(timeIntervalSince1970: 1_534_892_733))  // 2018-08-21T23:05:33Z
        #expect(advisory.modified != nil)
        #expect(advisory.withdrawn == nil)
    }

    @Test func parsesTheRealPyPIAdvisoryWithExplicitVersionsAndFractionalDates() throws {
        let advisory = try OSVFixtures.advisory("PYSEC-2018-66.json")
        #expect(advisory.aliases == ["CVE-2018-1000656", "GHSA-562c-5r94-xh97"])
        #expect(advisory.severity.isEmpty)
        #expect(advisory.severityLevel == nil)
        #expect(advisory.summary.isEmpty)
        #expect(advisory.affected[0].versions.count == 23)
        #expect(advisory.affected[0].versions.contains("0.11.1"))
        // 2021-06-10T06:51:46.545000Z: microsecond precision written by the PyPA database.
        let modified = try #require(advisory.modified)
        #expect(abs(modified.timeIntervalSince1970 - 1_623_307_906.545) < 0.001)
    }

    @Test func encodingRoundTripsTheOSVShape() throws {
        let advisory = try OSVFixtures.advisory("GHSA-562c-5r94-xh97.json")
        let encoded = try JSONEncoder().encode(advisory)
        let decoded = try OSVAdvisory.parse(Array(encoded))
        #expect(decoded == [advisory])
        // The OSV field names are kept: another OSV reader sees the same structure.
        let object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        #expect((object["database_specific"] as? [String: Any])?["severity"] as? String == "HIGH")
        let affected = try #require((object["affected"] as? [[String: Any]])?.first)
        #expect((affected["package"] as? [String: Any])?["ecosystem"] as? String == "PyPI")
        let events = try #require(((affected["ranges"] as? [[String: Any]])?.first)?["events"] as? [[String: String]])
        #expect(events == [["introduced": "0"], ["fixed": "0.12.3"]])
    }

    @Test func parsesArraysAndTheQueryAnswerShape() throws {
        let one = String(decoding: try Data(contentsOf: OSVFixtures.url("GHSA-562c-5r94-xh97.json")), as: UTF8.self)
        let two = String(decoding: try Data(contentsOf: OSVFixtures.url("PYSEC-2018-66.json")), as: UTF8.self)
        #expect(
            try OSVAdvisory.parse(Array("[\(one),\(two)]".utf8)).map(\.id) == ["GHSA-562c-5r94-xh97", "PYSEC-2018-66"])
        #expect(try OSVAdvisory.parse(Array("{\"vulns\":[\(two)]}".utf8)).map(\.id) == ["PYSEC-2018-66"])
    }

    @Test func rejectsMalformedAdvisories() {
        for text in [
            "not json", "{\"summary\": \"no id\"}", "42",
            "{\"id\": \"X\", \"affected\": [{\"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"bogus\": \"1\"}]}]}]}",
        ] {
            #expect(throws: SluiceError.self) { try OSVAdvisory.parse(Array(text.utf8)) }
            do {
                _ = try OSVAdvisory.parse(Array(text.utf8))
            } catch {
                #expect(error.code == .invalidInput)
            }
        }
    }

    @Test func loadsAFileADirectoryAndZipsStoredOrDeflated() throws {
        let single = try OSVImport.load(from: OSVFixtures.url("GHSA-562c-5r94-xh97.json"))
        #expect(single.advisories.map(\.id) == ["GHSA-562c-5r94-xh97"])
        #expect(single.skipped.isEmpty)

        let directory = try OSVImport.load(from: OSVFixtures.directory)
        #expect(directory.advisories.map(\.id) == ["GHSA-562c-5r94-xh97", "PYSEC-2018-66"])

        let work = try OSVFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        // A bad file among good ones is skipped and reported, not fatal.
        let nested = work.appendingPathComponent("src/nested", isDirectory: true)
        try FileManager.default.createDirectory(at: nested, withIntermediateDirectories: true)
        for name in ["GHSA-562c-5r94-xh97.json", "PYSEC-2018-66.json"] {
            try FileManager.default.copyItem(at: OSVFixtures.url(name), to: nested.appendingPathComponent(name))
        }
        try Data("{\"broken\": ".utf8).write(to: work.appendingPathComponent("src/broken.json"))
        try Data("ignored".utf8).write(to: work.appendingPathComponent("src/README.txt"))
        let mixed = try OSVImport.load(from: work.appendingPathComponent("src"))
        #expect(Set(mixed.advisories.map(\.id)) == ["GHSA-562c-5r94-xh97", "PYSEC-2018-66"])
        #expect(mixed.skipped.map { URL(fileURLWithPath: $0.source).lastPathComponent } == ["broken.json"])

        // Real OSV exports are deflate-compressed zips; `zip -0` stores.
        try OSVFixtures.run(["zip", "-q", "-r", "-9", "../deflated.zip", "."], in: work.appendingPathComponent("src"))
        try OSVFixtures.run(["zip", "-q", "-r", "-0", "../stored.zip", "."], in: work.appendingPathComponent("src"))
        for name in ["deflated.zip", "stored.zip"] {
            let zipped = try OSVImport.load(from: work.appendingPathComponent(name))
            #expect(Set(zipped.advisories.map(\.id)) == ["GHSA-562c-5r94-xh97", "PYSEC-2018-66"], "\(name)")
            #expect(
                zipped.advisories.first { $0.id == "GHSA-562c-5r94-xh97" }
                    == (try OSVFixtures.advisory("GHSA-562c-5r94-xh97.json")))
            #expect(zipped.skipped.count == 1)
            #expect(zipped.skipped.first?.source.hasSuffix("!broken.json") == true)
        }
        let reader = try ZipReader(file: work.appendingPathComponent("deflated.zip"))
        #expect(reader.entries.contains { $0.compressionMethod == 8 })

        #expect(throws: SluiceError.self) { try OSVImport.load(from: work.appendingPathComponent("missing.json")) }
        #expect(throws: SluiceError.self) { try OSVImport.load(from: work.appendingPathComponent("src/broken.json")) }
    }

    @Test func inflateReadsZlibOutputAndRefusesBadData() throws {
        let text = Data(String(repeating: "conda compliance ", count: 5_000).utf8)
        let gzip = try Gzip.compress(text)
        #expect(try Inflate.decompress(gzip, format: .gzip, maxOutputSize: 1 << 20) == Array(text))
        #expect(throws: SluiceError.self) { try Inflate.decompress(gzip, format: .gzip, maxOutputSize: 1_000) }
        #expect(throws: SluiceError.self) {
            try Inflate.decompress(gzip.prefix(gzip.count / 2), format: .gzip, maxOutputSize: 1 << 20)
        }
        #expect(throws: SluiceError.self) {
            try Inflate.decompress(Array("plain".utf8), format: .zlib, maxOutputSize: 100)
        }
    }

    /// Base scores published by NVD for these vectors.
    @Test(arguments: [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),  // CVE-2018-1000656 (flask)
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),  // CVE-2021-44228 class
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),  // CVE-2021-44228 (log4shell)
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),  // typical reflected XSS
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
        ("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", 7.2),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", 6.1),  // CVE-2023-32681 (requests)
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),  // GHSA-m2qf-hxjv-5gpq (flask)
        ("CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.3),
        ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C", 9.8),  // temporal metrics ignored
    ])
    func cvssBaseScores(vector: String, expected: Double) throws {
        #expect(try CVSS3.baseScore(vector: vector) == expected)
    }

    @Test func cvssRejectsBadVectorsAndRatesScores() {
        for vector in [
            "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P", "AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        ] {
            #expect(throws: SluiceError.self, "\(vector)") { try CVSS3.baseScore(vector: vector) }
        }
        #expect(SeverityLevel(score: 0) == SeverityLevel.none)
        #expect(SeverityLevel(score: 3.9) == .low)
        #expect(SeverityLevel(score: 4.0) == .medium)
        #expect(SeverityLevel(score: 7.5) == .high)
        #expect(SeverityLevel(score: 9.0) == .critical)
        #expect(SeverityLevel(text: "MODERATE") == .medium)
        #expect(SeverityLevel(text: "bogus") == nil)
        // A CVSS v4 vector alone gives no score; the database's word decides.
        let v4Only = OSVAdvisory(
            id: "X",
            severity: [
                OSVSeverity(type: "CVSS_V4", score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
            ],
            databaseSeverity: "CRITICAL")
        #expect(v4Only.cvssScore == nil)
        #expect(v4Only.severityLevel == .critical)
    }
}
