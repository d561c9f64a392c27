import Foundation
import Logging
import SQLKit
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceStorage

@Suite("SQLComplianceStore")
struct SQLComplianceStoreTests {
    static let logger = Logger(label: "sluice.storage.compliance-tests")

    @Test("SQLite file ComplianceStore conformance", arguments: ComplianceStoreConformance.checks)
    func sqliteFileConformance(_ check: ComplianceStoreConformance.Check) async throws {
        try await withSQLiteFileStore { try await check.run($0) }
    }

    @Test("SQLite in-memory ComplianceStore conformance", arguments: ComplianceStoreConformance.checks)
    func sqliteInMemoryConformance(_ check: ComplianceStoreConformance.Check) async throws {
        try await withSQLiteInMemoryStore { try await check.run($0) }
    }

    @Test("a version 5 database upgrades to 6 and keeps its feeds; compliance data survives reopening")
    func upgradeAndReopen() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("data/sluice.sqlite")
        let old = try await SQLMetadataStore.sqlite(
            file: file, logger: Self.logger, maximumConnections: 2, migratingUpTo: 5)
        try await old.createFeed(Feed(name: "main", createdAt: ComplianceStoreConformance.instant))
        try await old.shutdown()

        let first = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        #expect(try await first.feed(named: "main") != nil)
        #expect(try await first.complianceRevision() == 0)
        let advisories = try ComplianceStoreConformance.realAdvisories()
        let record = try await first.importAdvisories(
            advisories, source: "fixtures", importedBy: "admin", skipped: 0, at: ComplianceStoreConformance.instant)
        let policy = CompliancePolicy(vulnerabilityNoncompliantAt: .medium, blockedLicenses: ["AGPL-3.0-only"])
        try await first.setGlobalCompliancePolicy(policy)
        try await first.setCompliancePolicy(CompliancePolicy(allowedLicenses: ["MIT"]), feed: "main")
        try await first.setBlocksNoncompliant(true, feed: "main")
        try await first.addPackageNameMapping(PackageNameMapping(pypiName: "torch", condaName: "pytorch"))
        let exception = try await first.addComplianceException(
            ComplianceException(
                feed: "main", packagePattern: "flask", versionSpec: "<0.12.3", reason: "trusted input",
                expiresAt: ComplianceStoreConformance.instant.addingTimeInterval(600),
                createdAt: ComplianceStoreConformance.instant, createdBy: "admin"))
        let revision = try await first.complianceRevision()
        try await first.shutdown()

        let second = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        #expect(try await second.advisories().map(\.advisory) == advisories)
        #expect(try await second.advisoryImports(limit: 5) == [record])
        #expect(try await second.globalCompliancePolicy() == policy)
        #expect(try await second.compliancePolicy(feed: "main") == CompliancePolicy(allowedLicenses: ["MIT"]))
        #expect(try await second.feedsBlockingNoncompliant() == ["main"])
        #expect(try await second.packageNameMappings() == [PackageNameMapping(pypiName: "torch", condaName: "pytorch")])
        #expect(try await second.complianceExceptions() == [exception])
        #expect(try await second.complianceRevision() == revision)
        // Ids continue after reopening.
        let next = try await second.addComplianceException(
            ComplianceException(packagePattern: "x", reason: "r", createdAt: ComplianceStoreConformance.instant))
        #expect(next.id == exception.id + 1)
        try await second.shutdown()
    }

    @Test("an import of a thousand advisories is one transaction and a re-import changes nothing")
    func largeImport() async throws {
        let store = try await SQLMetadataStore.sqliteInMemory()
        let advisories = (0..<1_000).map {
            ComplianceStoreConformance.advisory(String(format: "GHSA-%04d", $0), name: "pkg\($0 % 50)")
        }
        let first = try await store.importAdvisories(
            advisories, source: "bulk", importedBy: nil, skipped: 0, at: ComplianceStoreConformance.instant)
        #expect(first.added == 1_000)
        let again = try await store.importAdvisories(
            advisories, source: "bulk", importedBy: nil, skipped: 0, at: ComplianceStoreConformance.instant)
        #expect(again.unchanged == 1_000 && again.added == 0 && again.updated == 0)
        let stored = try await store.advisories()
        #expect(stored.map(\.advisory) == advisories)
        try await store.shutdown()
    }
}
