import Foundation
import SluiceTesting
import Testing

@testable import SluiceCore

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date) { current = start }

    var now: Date {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    func advance(by seconds: TimeInterval) {
        lock.lock()
        current = current.addingTimeInterval(seconds)
        lock.unlock()
    }
}

@Suite("Compliance: the store-backed gate")
struct ComplianceGateTests {
    @Test func viewsFollowTheSwitchAdvisoriesExceptionsAndExpiry() async throws {
        let store = MemoryMetadataStore()
        try await store.createFeed(Feed(name: "main"))
        try await store.createFeed(Feed(name: "open"))
        let clock = ManualClock(CompliancePolicyTests.now)
        let gate = ComplianceStoreGate(store: store, now: { clock.now })
        let flask = try CompliancePolicyTests.flask()
        let fixed = try CompliancePolicyTests.fixedFlask()

        #expect(await gate.view(feed: "main") == nil, "blocking is off by default")
        try await store.setBlocksNoncompliant(true, feed: "main")
        let empty = try #require(await gate.view(feed: "main"))
        #expect(!empty.blocks(flask, subdir: "noarch"), "no advisories yet")

        let imported = try OSVImport.load(from: OSVFixtures.directory)
        try await store.importAdvisories(
            imported.advisories, source: OSVFixtures.directory.path, importedBy: "admin", skipped: 0, at: clock.now)
        let blocking = try #require(await gate.view(feed: "main"))
        #expect(blocking.blocks(flask, subdir: "noarch"))
        #expect(!blocking.blocks(fixed, subdir: "noarch"))
        #expect(await gate.view(feed: "open") == nil)

        // A feed policy that tolerates high severity lifts the block on that feed only.
        try await store.setCompliancePolicy(CompliancePolicy(vulnerabilityNoncompliantAt: .critical), feed: "main")
        #expect(try #require(await gate.view(feed: "main")).blocks(flask, subdir: "noarch") == false)
        try await store.setCompliancePolicy(nil, feed: "main")
        #expect(try #require(await gate.view(feed: "main")).blocks(flask, subdir: "noarch"))

        // An exception for an hour: covered now, blocked again once it expires.
        try await store.addComplianceException(
            ComplianceException(
                feed: "main", packagePattern: "flask", versionSpec: "<0.12.3", reason: "trusted input",
                expiresAt: clock.now.addingTimeInterval(3_600), createdAt: clock.now))
        #expect(try #require(await gate.view(feed: "main")).blocks(flask, subdir: "noarch") == false)
        clock.advance(by: 3_599)
        #expect(try #require(await gate.view(feed: "main")).blocks(flask, subdir: "noarch") == false)
        clock.advance(by: 1)
        #expect(try #require(await gate.view(feed: "main")).blocks(flask, subdir: "noarch"))

        // A name mapping makes the advisory apply to a differently named conda package.
        var renamed = flask
        renamed.fields["name"] = .string("flask-core")
        renamed.filename = "flask-core-0.11.1-py_0.tar.bz2"
        #expect(try #require(await gate.view(feed: "main")).blocks(renamed, subdir: "noarch") == false)
        try await store.addPackageNameMapping(PackageNameMapping(pypiName: "Flask", condaName: "flask-core"))
        #expect(try #require(await gate.view(feed: "main")).blocks(renamed, subdir: "noarch"))

        let context = try await gate.context(feed: "open")
        #expect(context.verdict(for: flask, subdir: "noarch").outcome == .noncompliant)
        try await store.setBlocksNoncompliant(false, feed: "main")
        #expect(await gate.view(feed: "main") == nil)
        #expect(await gate.failures == 0)
    }
}
