import Foundation
import SluiceCore
import Testing

/// The behaviour every ``ComplianceStore`` must have (advisories and their import history, name mappings, policies,
/// exceptions, blocking switches and the revision), as a list of checks that a test target runs against each
/// implementation, each on a fresh, empty store that is also a ``MetadataStore`` (feeds are created through it):
///
/// ```swift
/// @Test(arguments: ComplianceStoreConformance.checks)
/// func memory(_ check: ComplianceStoreConformance.Check) async throws {
///     try await check.run(MemoryMetadataStore())
/// }
/// ```
///
/// Timestamps in the checks are whole milliseconds, the precision the SQL store keeps.
public enum ComplianceStoreConformance {
    /// A store under test: both protocols, as `MemoryMetadataStore` and `SQLMetadataStore` are.
    public typealias Store = any MetadataStore & ComplianceStore

    /// One named check; `run` takes a fresh, empty store.
    public struct Check: Sendable, CustomStringConvertible {
        public var name: String
        public var run: @Sendable (Store) async throws -> Void
        public var description: String { name }
    }

    /// Every check.
    public static let checks: [Check] = [
        Check(name: "advisories: the real OSV fixtures round-trip with their import time", run: realAdvisories),
        Check(
            name: "advisories: added, updated (first import time kept), unchanged, last duplicate wins", run: reimport),
        Check(name: "advisories: delete; an advisory without an id stores nothing", run: deleteAndInvalid),
        Check(name: "import history: newest first, limit, counts, skipped, who", run: importHistory),
        Check(name: "name mappings: normalised pairs, several conda names, replace, remove, order", run: mappings),
        Check(name: "policies: global default and round trip, per-feed set/remove, unknown feed", run: policies),
        Check(name: "exceptions: every field, ids never reused, validation, unknown feed", run: exceptions),
        Check(name: "blocking switch: default off, on/off, listed by name, unknown feed", run: blocking),
        Check(name: "deleting a feed drops its policy, switch and exceptions", run: deleteFeedCascades),
        Check(name: "complianceRevision grows on every change, not on reads or failures", run: revision),
        Check(name: "concurrent imports of overlapping advisories", run: concurrentImports),
    ]

    // MARK: Test data

    /// A fixed instant with whole milliseconds.
    public static let instant = Date(timeIntervalSince1970: 1_700_000_000.123)

    /// `Tests/SluiceCoreTests/Fixtures/osv`: the real flask advisories in the OSV shape.
    public static let osvFixtures: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/SluiceCoreTests/Fixtures/osv", isDirectory: true)

    /// The real advisories of ``osvFixtures`` (GHSA-562c-5r94-xh97 and PYSEC-2018-66).
    public static func realAdvisories() throws -> [OSVAdvisory] {
        try OSVImport.load(from: osvFixtures).advisories
    }

    /// A small advisory for PyPI `name`, fixed in `fixed`.
    public static func advisory(
        _ id: String, name: String = "example", fixed: String = "1.0", summary: String = ""
    )
        -> OSVAdvisory
    {
        OSVAdvisory(
            id: id, aliases: ["CVE-\(id)"], summary: summary,
            severity: [OSVSeverity(type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")],
            affected: [
                OSVAffected(
                    ecosystem: "PyPI", name: name,
                    ranges: [OSVRange(type: "ECOSYSTEM", events: [.init(.introduced, "0"), .init(.fixed, fixed)])])
            ],
            modified: instant)
    }

    private static func feed(_ name: String) -> Feed {
        Feed(name: name, createdAt: instant)
    }

    // MARK: Advisories

    static func realAdvisories(_ store: Store) async throws {
        let advisories = try realAdvisories()
        #expect(advisories.map(\.id) == ["GHSA-562c-5r94-xh97", "PYSEC-2018-66"])
        let record = try await store.importAdvisories(
            advisories, source: "/data/osv/PyPI", importedBy: "admin", skipped: 1, at: instant)
        #expect(record.added == 2 && record.updated == 0 && record.unchanged == 0 && record.skipped == 1)
        let stored = try await store.advisories()
        #expect(stored.map(\.advisory) == advisories)
        #expect(
            stored.allSatisfy { $0.importedAt == instant && $0.updatedAt == instant && $0.source == "/data/osv/PyPI" })
        let ghsa = try #require(try await store.advisory(id: "GHSA-562c-5r94-xh97"))
        #expect(ghsa.advisory.cvssScore == 7.5)
        #expect(ghsa.advisory.databaseSeverity == "HIGH")
        #expect(ghsa.advisory.affected.first?.fixedVersions == ["0.12.3"])
        #expect(try await store.advisory(id: "pysec-2018-66") == nil, "ids are case-sensitive")
        // The stored advisories still match the real flask record.
        let index = AdvisoryIndex(advisories: stored.map(\.advisory))
        let flask = try PackageInspector().inspect(
            file: Fixtures.package("conda-index", "flask-0.11.1-py_0.tar.bz2"), filename: "flask-0.11.1-py_0.tar.bz2")
        #expect(index.matches(for: flask.record).count == 2)
    }

    static func reimport(_ store: Store) async throws {
        let later = instant.addingTimeInterval(3_600)
        try await store.importAdvisories(
            [advisory("A-1"), advisory("B-2"), advisory("C-3")], source: "first", importedBy: nil, skipped: 0,
            at: instant)
        var changed = advisory("B-2", fixed: "2.0", summary: "now fixed later")
        changed.modified = later
        let record = try await store.importAdvisories(
            [
                advisory("A-1"), advisory("B-2", summary: "overwritten by the later duplicate"), changed,
                advisory("D-4"),
            ],
            source: "second", importedBy: "alice", skipped: 0, at: later)
        #expect(record.added == 1)
        #expect(record.updated == 1)
        #expect(record.unchanged == 1)
        let stored = try await store.advisories()
        #expect(stored.map(\.advisory.id) == ["A-1", "B-2", "C-3", "D-4"])
        let a = try #require(stored.first { $0.advisory.id == "A-1" })
        #expect(a.importedAt == instant && a.updatedAt == instant && a.source == "first")
        let b = try #require(stored.first { $0.advisory.id == "B-2" })
        #expect(b.advisory == changed)
        #expect(b.importedAt == instant)
        #expect(b.updatedAt == later)
        #expect(b.source == "second")
        let d = try #require(stored.first { $0.advisory.id == "D-4" })
        #expect(d.importedAt == later)
    }

    static func deleteAndInvalid(_ store: Store) async throws {
        try await store.importAdvisories(
            [advisory("A-1"), advisory("B-2")], source: "s", importedBy: nil, skipped: 0, at: instant)
        #expect(try await store.deleteAdvisory(id: "A-1"))
        #expect(try await !store.deleteAdvisory(id: "A-1"))
        #expect(try await store.advisories().map(\.advisory.id) == ["B-2"])
        let imports = try await store.advisoryImports(limit: 10).count
        await expectError(.invalidInput) {
            try await store.importAdvisories(
                [advisory("C-3"), advisory(" ")], source: "s", importedBy: nil, skipped: 0, at: instant)
        }
        #expect(try await store.advisories().map(\.advisory.id) == ["B-2"])
        #expect(try await store.advisoryImports(limit: 10).count == imports)
    }

    static func importHistory(_ store: Store) async throws {
        #expect(try await store.advisoryImports(limit: 10).isEmpty)
        var records: [AdvisoryImportRecord] = []
        for index in 0..<3 {
            records.append(
                try await store.importAdvisories(
                    [advisory("A-1"), advisory("X-\(index)")], source: "run \(index)",
                    importedBy: index == 1 ? nil : "admin", skipped: index,
                    at: instant.addingTimeInterval(Double(index))))
        }
        let history = try await store.advisoryImports(limit: 10)
        #expect(history == records.reversed())
        #expect(Set(records.map(\.id)).count == 3)
        #expect(records.map(\.id) == records.map(\.id).sorted())
        #expect(history.map(\.source) == ["run 2", "run 1", "run 0"])
        #expect(history.map(\.added) == [1, 1, 2])
        #expect(history.map(\.unchanged) == [1, 1, 0])
        #expect(history.map(\.skipped) == [2, 1, 0])
        #expect(history.map(\.importedBy) == ["admin", nil, "admin"])
        #expect(history.first?.importedAt == instant.addingTimeInterval(2))
        #expect(try await store.advisoryImports(limit: 2).map(\.source) == ["run 2", "run 1"])
        #expect(try await store.advisoryImports(limit: 0).isEmpty)
    }

    // MARK: Name mappings

    static func mappings(_ store: Store) async throws {
        #expect(try await store.packageNameMappings().isEmpty)
        try await store.addPackageNameMapping(PackageNameMapping(pypiName: "torch", condaName: "pytorch"))
        try await store.addPackageNameMapping(PackageNameMapping(pypiName: "tables", condaName: "pytables"))
        try await store.addPackageNameMapping(PackageNameMapping(pypiName: "msgpack", condaName: "msgpack-python"))
        try await store.addPackageNameMapping(PackageNameMapping(pypiName: "torch", condaName: "pytorch-cpu"))
        // The same pair after PEP 503 normalisation replaces the spelling.
        try await store.addPackageNameMapping(PackageNameMapping(pypiName: "Torch", condaName: "PyTorch"))
        #expect(
            try await store.packageNameMappings() == [
                PackageNameMapping(pypiName: "msgpack", condaName: "msgpack-python"),
                PackageNameMapping(pypiName: "tables", condaName: "pytables"),
                PackageNameMapping(pypiName: "Torch", condaName: "PyTorch"),
                PackageNameMapping(pypiName: "torch", condaName: "pytorch-cpu"),
            ])
        #expect(try await store.removePackageNameMapping(pypiName: "TORCH", condaName: "pytorch_cpu"))
        #expect(try await !store.removePackageNameMapping(pypiName: "torch", condaName: "pytorch-cpu"))
        #expect(try await store.packageNameMappings().count == 3)
        await expectError(.invalidInput) {
            try await store.addPackageNameMapping(PackageNameMapping(pypiName: "", condaName: "x"))
        }
        await expectError(.invalidInput) {
            try await store.addPackageNameMapping(PackageNameMapping(pypiName: "x", condaName: "-_-"))
        }
        #expect(try await store.packageNameMappings().count == 3)
    }

    // MARK: Policies

    static func policies(_ store: Store) async throws {
        #expect(try await store.globalCompliancePolicy() == CompliancePolicy())
        let global = CompliancePolicy(
            vulnerabilityNoncompliantAt: .high, vulnerabilityWarnAt: .medium, unknownSeverityOutcome: .warn,
            allowedLicenses: ["MIT", "BSD-3-Clause", "Apache-2.0"], blockedLicenses: ["AGPL-3.0-only"],
            notAllowedLicenseOutcome: .warn, unknownLicenseOutcome: .noncompliant)
        try await store.setGlobalCompliancePolicy(global)
        #expect(try await store.globalCompliancePolicy() == global)

        try await store.createFeed(feed("main"))
        #expect(try await store.compliancePolicy(feed: "main") == nil)
        let strict = CompliancePolicy(vulnerabilityNoncompliantAt: .medium, allowedLicenses: [])
        try await store.setCompliancePolicy(strict, feed: "main")
        #expect(try await store.compliancePolicy(feed: "main") == strict)
        #expect(try await store.compliancePolicy(feed: "main")?.allowedLicenses == [], "an empty list is kept")
        try await store.setCompliancePolicy(nil, feed: "main")
        #expect(try await store.compliancePolicy(feed: "main") == nil)
        await expectError(.notFound) { try await store.setCompliancePolicy(strict, feed: "ghost") }
        #expect(try await store.compliancePolicy(feed: "ghost") == nil)
        #expect(try await store.globalCompliancePolicy() == global)
    }

    // MARK: Exceptions

    static func exceptions(_ store: Store) async throws {
        try await store.createFeed(feed("main"))
        #expect(try await store.complianceExceptions().isEmpty)
        let global = try await store.addComplianceException(
            ComplianceException(
                packagePattern: "flask", versionSpec: "<0.12.3", reason: "Internal tool, JSON input is trusted",
                expiresAt: instant.addingTimeInterval(86_400), createdAt: instant, createdBy: "admin"))
        let scoped = try await store.addComplianceException(
            ComplianceException(feed: "main", packagePattern: "py*", reason: "Vendor-approved", createdAt: instant))
        #expect(global.id > 0)
        #expect(scoped.id > global.id)
        #expect(global.feed == nil && global.packagePattern == "flask" && global.versionSpec == "<0.12.3")
        #expect(try await store.complianceExceptions() == [global, scoped])
        await expectError(.invalidInput) {
            try await store.addComplianceException(ComplianceException(packagePattern: "", reason: "r"))
        }
        await expectError(.invalidInput) {
            try await store.addComplianceException(
                ComplianceException(packagePattern: "x", versionSpec: ">=>1", reason: "r"))
        }
        await expectError(.notFound) {
            try await store.addComplianceException(ComplianceException(feed: "ghost", packagePattern: "x", reason: "r"))
        }
        #expect(try await store.deleteComplianceException(id: global.id) == global)
        #expect(try await store.deleteComplianceException(id: global.id) == nil)
        let next = try await store.addComplianceException(
            ComplianceException(packagePattern: "numpy", reason: "r", createdAt: instant))
        #expect(next.id > scoped.id, "ids are never reused")
        #expect(try await store.complianceExceptions().map(\.id) == [scoped.id, next.id])
    }

    // MARK: Blocking

    static func blocking(_ store: Store) async throws {
        try await store.createFeed(feed("main"))
        try await store.createFeed(feed("approved"))
        #expect(try await !store.blocksNoncompliant(feed: "main"))
        #expect(try await store.feedsBlockingNoncompliant().isEmpty)
        try await store.setBlocksNoncompliant(true, feed: "main")
        try await store.setBlocksNoncompliant(true, feed: "approved")
        try await store.setBlocksNoncompliant(true, feed: "approved")
        #expect(try await store.blocksNoncompliant(feed: "main"))
        #expect(try await store.feedsBlockingNoncompliant() == ["approved", "main"])
        try await store.setBlocksNoncompliant(false, feed: "main")
        #expect(try await !store.blocksNoncompliant(feed: "main"))
        #expect(try await store.feedsBlockingNoncompliant() == ["approved"])
        await expectError(.notFound) { try await store.setBlocksNoncompliant(true, feed: "ghost") }
        #expect(try await !store.blocksNoncompliant(feed: "ghost"))
    }

    static func deleteFeedCascades(_ store: Store) async throws {
        try await store.createFeed(feed("main"))
        try await store.createFeed(feed("other"))
        try await store.setCompliancePolicy(CompliancePolicy(vulnerabilityNoncompliantAt: .low), feed: "main")
        try await store.setBlocksNoncompliant(true, feed: "main")
        try await store.setBlocksNoncompliant(true, feed: "other")
        let global = try await store.addComplianceException(
            ComplianceException(packagePattern: "a", reason: "r", createdAt: instant))
        _ = try await store.addComplianceException(
            ComplianceException(feed: "main", packagePattern: "b", reason: "r", createdAt: instant))
        let other = try await store.addComplianceException(
            ComplianceException(feed: "other", packagePattern: "c", reason: "r", createdAt: instant))
        #expect(try await store.deleteFeed(named: "main"))
        #expect(try await store.compliancePolicy(feed: "main") == nil)
        #expect(try await !store.blocksNoncompliant(feed: "main"))
        #expect(try await store.feedsBlockingNoncompliant() == ["other"])
        #expect(try await store.complianceExceptions() == [global, other])
        // A new feed of the same name starts clean.
        try await store.createFeed(feed("main"))
        #expect(try await store.compliancePolicy(feed: "main") == nil)
        #expect(try await !store.blocksNoncompliant(feed: "main"))
    }

    // MARK: Revision

    static func revision(_ store: Store) async throws {
        try await store.createFeed(feed("main"))
        var last = try await store.complianceRevision()

        /// Runs `change` and expects the revision to have grown (`grows`) or to be unchanged.
        func step(_ what: String, grows: Bool, _ change: () async throws -> Void) async throws {
            try await change()
            let now = try await store.complianceRevision()
            if grows {
                #expect(now > last, "\(what) changes the revision")
            } else {
                #expect(now == last, "\(what) leaves the revision")
            }
            last = now
        }

        try await step("importAdvisories", grows: true) {
            try await store.importAdvisories([advisory("A-1")], source: "s", importedBy: nil, skipped: 0, at: instant)
        }
        try await step("importAdvisories with nothing new", grows: true) {
            try await store.importAdvisories([advisory("A-1")], source: "s", importedBy: nil, skipped: 0, at: instant)
        }
        try await step("deleteAdvisory", grows: true) { _ = try await store.deleteAdvisory(id: "A-1") }
        try await step("addPackageNameMapping", grows: true) {
            try await store.addPackageNameMapping(PackageNameMapping(pypiName: "torch", condaName: "pytorch"))
        }
        try await step("removePackageNameMapping", grows: true) {
            _ = try await store.removePackageNameMapping(pypiName: "torch", condaName: "pytorch")
        }
        try await step("setGlobalCompliancePolicy", grows: true) {
            try await store.setGlobalCompliancePolicy(CompliancePolicy(vulnerabilityWarnAt: .low))
        }
        try await step("setCompliancePolicy", grows: true) {
            try await store.setCompliancePolicy(CompliancePolicy(vulnerabilityWarnAt: .high), feed: "main")
        }
        var exception = ComplianceException(packagePattern: "x", reason: "r", createdAt: instant)
        try await step("addComplianceException", grows: true) {
            exception = try await store.addComplianceException(exception)
        }
        try await step("setBlocksNoncompliant", grows: true) {
            try await store.setBlocksNoncompliant(true, feed: "main")
        }
        try await step("reads", grows: false) {
            _ = try await store.advisories()
            _ = try await store.advisory(id: "A-1")
            _ = try await store.advisoryImports(limit: 5)
            _ = try await store.packageNameMappings()
            _ = try await store.globalCompliancePolicy()
            _ = try await store.compliancePolicy(feed: "main")
            _ = try await store.complianceExceptions()
            _ = try await store.blocksNoncompliant(feed: "main")
            _ = try await store.feedsBlockingNoncompliant()
        }
        try await step("failed changes", grows: false) {
            await expectError(.notFound) { try await store.setBlocksNoncompliant(true, feed: "ghost") }
            await expectError(.notFound) { try await store.setCompliancePolicy(CompliancePolicy(), feed: "ghost") }
            await expectError(.invalidInput) {
                try await store.addComplianceException(ComplianceException(packagePattern: "", reason: "r"))
            }
            await expectError(.invalidInput) {
                try await store.importAdvisories([advisory("")], source: "s", importedBy: nil, skipped: 0, at: instant)
            }
            let deletedAdvisory = try await store.deleteAdvisory(id: "none")
            let deletedException = try await store.deleteComplianceException(id: 999_999)
            let removedMapping = try await store.removePackageNameMapping(pypiName: "a", condaName: "b")
            #expect(!deletedAdvisory && deletedException == nil && !removedMapping)
        }
        try await step("deleteComplianceException", grows: true) {
            _ = try await store.deleteComplianceException(id: exception.id)
        }
    }

    // MARK: Concurrency

    static func concurrentImports(_ store: Store) async throws {
        let records = try await withThrowingTaskGroup(of: AdvisoryImportRecord.self) { group in
            for run in 0..<10 {
                group.addTask {
                    // Each run shares A-0...A-4 with every other run and adds two of its own.
                    let advisories =
                        (0..<5).map { advisory("A-\($0)") } + [advisory("R\(run)-1"), advisory("R\(run)-2")]
                    return try await store.importAdvisories(
                        advisories, source: "run \(run)", importedBy: nil, skipped: 0, at: instant)
                }
            }
            return try await group.reduce(into: [AdvisoryImportRecord]()) { $0.append($1) }
        }
        #expect(records.map(\.added).reduce(0, +) == 25, "every advisory added exactly once")
        #expect(records.map(\.unchanged).reduce(0, +) == 45)
        #expect(records.allSatisfy { $0.updated == 0 })
        #expect(Set(records.map(\.id)).count == 10)
        #expect(try await store.advisories().count == 25)
        #expect(try await store.advisoryImports(limit: 100).count == 10)
    }
}

/// Runs every ``ComplianceStoreConformance`` check, each on a fresh store from `makeStore`; `tearDown` (for example
/// `shutdown()`) runs after each check.
public func runComplianceStoreConformance(
    _ makeStore: () async throws -> ComplianceStoreConformance.Store,
    tearDown: (ComplianceStoreConformance.Store) async throws -> Void = { _ in }
) async throws {
    for check in ComplianceStoreConformance.checks {
        let store = try await makeStore()
        do {
            try await check.run(store)
        } catch {
            try await tearDown(store)
            throw error
        }
        try await tearDown(store)
    }
}
