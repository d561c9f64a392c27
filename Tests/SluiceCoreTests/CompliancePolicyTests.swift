import Foundation
import SluiceTesting
import Testing

@testable import SluiceCore

@Suite("Compliance: policies, exceptions and verdicts")
struct CompliancePolicyTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// The real flask 0.11.1 (noarch python, depends on python, license "BSD").
    static func flask() throws -> PackageRecord {
        try PackageInspector().inspect(
            file: Fixtures.package("conda-index", "flask-0.11.1-py_0.tar.bz2"), filename: "flask-0.11.1-py_0.tar.bz2"
        ).record
    }

    /// The same record as a build of the fixed version 0.12.3.
    static func fixedFlask() throws -> PackageRecord {
        var record = try flask()
        record.fields["version"] = .string("0.12.3")
        record.filename = "flask-0.12.3-py_0.tar.bz2"
        return record
    }

    static func flaskIndex() throws -> AdvisoryIndex {
        AdvisoryIndex(advisories: try OSVImport.load(from: OSVFixtures.directory).advisories)
    }

    private func evaluate(
        _ record: PackageRecord, index: AdvisoryIndex, policy: ResolvedCompliancePolicy = .default,
        exceptions: [ComplianceException] = [], feed: String? = "main"
    ) -> ComplianceVerdict {
        ComplianceEvaluator.evaluate(
            record: record, subdir: record.subdir, feed: feed, matches: index.matches(for: record), policy: policy,
            exceptions: exceptions, now: Self.now)
    }

    @Test func theRealFlaskIsNoncompliantAndTheFixedBuildIsCompliant() throws {
        let index = try Self.flaskIndex()
        let verdict = evaluate(try Self.flask(), index: index)
        #expect(verdict.outcome == .noncompliant)
        #expect(verdict.effectiveOutcome == .noncompliant)
        #expect(verdict.blocks)
        #expect(verdict.exception == nil)
        #expect(verdict.filename == "flask-0.11.1-py_0.tar.bz2")
        #expect(verdict.subdir == "noarch")
        // The GHSA and the PYSEC are one vulnerability: one finding, the GHSA (with a severity) shown first.
        #expect(verdict.vulnerabilities.count == 1)
        let finding = try #require(verdict.vulnerabilities.first)
        #expect(finding.advisoryIDs == ["GHSA-562c-5r94-xh97", "PYSEC-2018-66"])
        #expect(finding.aliases == ["CVE-2018-1000656"])
        #expect(finding.severity == .high)
        #expect(finding.cvssScore == 7.5)
        #expect(finding.fixedVersions == ["0.12.3"])
        let vulnerability = try #require(verdict.results.first { $0.rule == .vulnerability })
        #expect(vulnerability.outcome == .noncompliant)
        #expect(vulnerability.reason.contains("GHSA-562c-5r94-xh97"))
        #expect(vulnerability.reason.contains("CVE-2018-1000656"))
        #expect(vulnerability.reason.contains("fixed in 0.12.3"))
        #expect(vulnerability.reason.contains("CVSS 7.5"))
        // Its licence "BSD" is recognised and allowed by the default policy.
        let license = try #require(verdict.results.first { $0.rule == .license })
        #expect(license.outcome == .compliant)
        #expect(verdict.license.spdx == "BSD-3-Clause")
        #expect(verdict.reasons == [vulnerability.reason])

        let fixed = evaluate(try Self.fixedFlask(), index: index)
        #expect(fixed.outcome == .compliant)
        #expect(!fixed.blocks)
        #expect(fixed.vulnerabilities.isEmpty)
        #expect(fixed.results.map(\.outcome) == [.compliant, .compliant])
        #expect(fixed.reasons.isEmpty)
    }

    @Test func severityThresholds() throws {
        let index = try Self.flaskIndex()
        let flask = try Self.flask()
        var policy = ResolvedCompliancePolicy.default
        policy.vulnerabilityNoncompliantAt = .critical
        #expect(evaluate(flask, index: index, policy: policy).outcome == .warn)
        policy.vulnerabilityWarnAt = .critical
        #expect(evaluate(flask, index: index, policy: policy).outcome == .compliant)
        policy.vulnerabilityNoncompliantAt = .never
        policy.vulnerabilityWarnAt = .low
        #expect(evaluate(flask, index: index, policy: policy).outcome == .warn)

        // Only the PYSEC (no severity): the unknown-severity rule decides.
        let pysec = AdvisoryIndex(advisories: [try OSVFixtures.advisory("PYSEC-2018-66.json")])
        #expect(evaluate(flask, index: pysec).outcome == .warn)
        var strict = ResolvedCompliancePolicy.default
        strict.unknownSeverityOutcome = .noncompliant
        let verdict = evaluate(flask, index: pysec, policy: strict)
        #expect(verdict.outcome == .noncompliant)
        #expect(verdict.reasons.first?.contains("no severity given") == true)
    }

    @Test func exceptionsCoverByPatternVersionFeedAndExpiry() throws {
        let index = try Self.flaskIndex()
        let flask = try Self.flask()
        let covering = ComplianceException(
            id: 7, packagePattern: "fla*", versionSpec: "<0.12.3", reason: "Internal app, JSON input trusted",
            createdAt: Self.now, createdBy: "admin")
        let verdict = evaluate(flask, index: index, exceptions: [covering])
        #expect(verdict.outcome == .noncompliant)
        #expect(verdict.effectiveOutcome == .compliant)
        #expect(!verdict.blocks)
        #expect(verdict.exception == covering)

        let cases: [(ComplianceException, Bool)] = [
            (ComplianceException(packagePattern: "FLASK", reason: "r"), true),
            (ComplianceException(packagePattern: "*", versionSpec: "0.11.*", reason: "r"), true),
            (ComplianceException(packagePattern: "fl?sk", versionSpec: ">=0.11,<0.12", reason: "r"), true),
            (ComplianceException(packagePattern: "flask", versionSpec: ">=0.12", reason: "r"), false),
            (ComplianceException(packagePattern: "flask-*", reason: "r"), false),
            (ComplianceException(feed: "main", packagePattern: "flask", reason: "r"), true),
            (ComplianceException(feed: "other", packagePattern: "flask", reason: "r"), false),
            (
                ComplianceException(packagePattern: "flask", reason: "r", expiresAt: Self.now.addingTimeInterval(60)),
                true
            ),
            (ComplianceException(packagePattern: "flask", reason: "r", expiresAt: Self.now), false),
            (ComplianceException(packagePattern: "flask", versionSpec: ">=>1", reason: "r"), false),
        ]
        for (exception, covers) in cases {
            let result = evaluate(flask, index: index, exceptions: [exception])
            #expect(
                result.blocks == !covers,
                "\(exception.packagePattern) \(exception.versionSpec ?? "") \(exception.feed ?? "")")
        }
        // A feed-scoped exception never covers outside that feed.
        let scoped = ComplianceException(feed: "main", packagePattern: "flask", reason: "r")
        #expect(evaluate(flask, index: index, exceptions: [scoped], feed: nil).blocks)
        // Validation.
        #expect(throws: SluiceError.self) { try ComplianceException(packagePattern: " ", reason: "r").validate() }
        #expect(throws: SluiceError.self) {
            try ComplianceException(packagePattern: "x", versionSpec: ">=>1", reason: "r").validate()
        }
        try ComplianceException(packagePattern: "x", versionSpec: ">=1,<2", reason: "r").validate()
    }

    @Test func licenseRules() throws {
        let empty = AdvisoryIndex(advisories: [])
        func outcome(_ license: String?, _ policy: ResolvedCompliancePolicy) -> ComplianceOutcome {
            evaluate(complianceRecord("pkg", "1.0", license: license), index: empty, policy: policy).outcome
        }
        var policy = ResolvedCompliancePolicy.default
        #expect(outcome("MIT", policy) == .compliant)
        #expect(outcome("contract in blood", policy) == .warn)
        #expect(outcome(nil, policy) == .warn)
        #expect(outcome("None", policy) == .warn)

        policy.blockedLicenses = ["AGPL-3.0-only", "agpl-3.0-or-later"]
        #expect(outcome("AGPL-3", policy) == .noncompliant)
        #expect(outcome("AGPLv3+", policy) == .noncompliant)
        // OR: the user may pick the other licence; AND: every licence applies.
        #expect(outcome("Commercial or AGPLv3", policy) == .compliant)
        #expect(outcome("MIT and AGPLv3", policy) == .noncompliant)

        policy.allowedLicenses = ["MIT", "BSD-3-Clause", "Apache-2.0", "GPL-2.0-only"]
        #expect(outcome("MIT License", policy) == .compliant)
        #expect(outcome("ISC", policy) == .noncompliant)
        #expect(outcome("GPL (>= 2)", policy) == .compliant)  // or-later: GPL-2.0 may be chosen
        #expect(outcome("GPL-3", policy) == .noncompliant)
        #expect(outcome("GPL-2 | GPL-3", policy) == .compliant)
        #expect(outcome("MIT + file LICENSE | Unlimited", policy) == .compliant)
        #expect(outcome("GPL-3 | file LICENSE", policy) == .warn)  // not allowed OR unknown: the better is unknown
        policy.notAllowedLicenseOutcome = .warn
        #expect(outcome("ISC", policy) == .warn)
        policy.unknownLicenseOutcome = .noncompliant
        #expect(outcome(nil, policy) == .noncompliant)
        #expect(outcome("Various", policy) == .noncompliant)

        let verdict = evaluate(complianceRecord("pkg", "1.0", license: "AGPL-3"), index: empty, policy: policy)
        let result = try #require(verdict.results.first { $0.rule == .license })
        #expect(result.reason.contains("AGPL-3.0-only is on the block list"))
        #expect(result.reason.contains("\"AGPL-3\""))
    }

    @Test func feedPoliciesRefineTheGlobalOne() {
        let global = CompliancePolicy(
            vulnerabilityNoncompliantAt: .critical, allowedLicenses: ["MIT", "BSD-3-Clause"],
            blockedLicenses: ["AGPL-3.0-only"], unknownLicenseOutcome: .noncompliant)
        let feed = CompliancePolicy(
            vulnerabilityNoncompliantAt: .high, allowedLicenses: ["MIT"],
            blockedLicenses: ["GPL-3.0-only", "agpl-3.0-only"])
        let resolved = CompliancePolicy.resolved(global: global, feed: feed)
        #expect(resolved.vulnerabilityNoncompliantAt == .high)
        #expect(resolved.vulnerabilityWarnAt == .medium)  // default
        #expect(resolved.allowedLicenses == ["MIT"])  // replaced
        #expect(resolved.blockedLicenses == ["AGPL-3.0-only", "GPL-3.0-only"])  // union, case-insensitive
        #expect(resolved.unknownLicenseOutcome == .noncompliant)  // inherited
        #expect(resolved.licenseRuleCanBlock)

        let globalOnly = CompliancePolicy.resolved(global: global, feed: nil)
        #expect(globalOnly.allowedLicenses == ["MIT", "BSD-3-Clause"])
        #expect(globalOnly.vulnerabilityNoncompliantAt == .critical)
        // An empty allow list on the feed removes the global one.
        let open = CompliancePolicy.resolved(global: global, feed: CompliancePolicy(allowedLicenses: []))
        #expect(open.allowedLicenses == nil)
        #expect(CompliancePolicy.resolved(global: nil, feed: nil) == .default)
        #expect(!ResolvedCompliancePolicy.default.licenseRuleCanBlock)
    }

    @Test func policiesRoundTripThroughJSON() throws {
        let policy = CompliancePolicy(
            vulnerabilityNoncompliantAt: .high, vulnerabilityWarnAt: .never, allowedLicenses: ["MIT"],
            unknownLicenseOutcome: .noncompliant)
        let data = try JSONEncoder().encode(policy)
        #expect(try JSONDecoder().decode(CompliancePolicy.self, from: data) == policy)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["vulnerabilityNoncompliantAt"] as? String == "high")
        #expect(object["vulnerabilityWarnAt"] as? String == "never")
        #expect(object["blockedLicenses"] == nil)
    }

    @Test func theFeedViewBlocksTheVulnerableBuildAndKeepsTheFixedOne() throws {
        let flask = try Self.flask()
        let fixed = try Self.fixedFlask()
        let context = ComplianceContext(
            feed: "main", index: try Self.flaskIndex(), policy: .default,
            exceptions: [ComplianceException(feed: "other", packagePattern: "flask", reason: "elsewhere")],
            now: Self.now)
        #expect(context.exceptions.isEmpty)
        let view = FeedComplianceView(context: context, records: [(flask, "noarch"), (fixed, "noarch")])
        let gateView: any ComplianceView = view
        #expect(gateView.blocks(flask, subdir: "noarch"))
        #expect(!gateView.blocks(fixed, subdir: "noarch"))
        #expect(view.verdicts.map(\.filename) == ["flask-0.11.1-py_0.tar.bz2", "flask-0.12.3-py_0.tar.bz2"])
        #expect(view.blockedVerdicts.map(\.filename) == ["flask-0.11.1-py_0.tar.bz2"])
        // A record outside the table (an upstream record of a proxy feed) is judged on the fly.
        var upstream = flask
        upstream.filename = "flask-0.12.2-py_0.tar.bz2"
        upstream.fields["version"] = .string("0.12.2")
        #expect(view.blocks(upstream, subdir: "noarch"))
        #expect(view.verdict(for: upstream, subdir: "noarch").vulnerabilities.first?.fixedVersions == ["0.12.3"])
        #expect(!view.blocks(complianceRecord("numpy", "1.0", license: "Various"), subdir: "linux-64"))

        // An exception for the feed lifts the block.
        let excepted = FeedComplianceView(
            context: ComplianceContext(
                feed: "main", index: try Self.flaskIndex(), policy: .default,
                exceptions: [
                    ComplianceException(feed: "main", packagePattern: "flask", versionSpec: "0.11.1", reason: "ok")
                ],
                now: Self.now),
            records: [(flask, "noarch")])
        #expect(!excepted.blocks(flask, subdir: "noarch"))
        #expect(excepted.blocks(upstream, subdir: "noarch"))

        // A licence policy that can block makes the view look at every record's licence.
        var policy = ResolvedCompliancePolicy.default
        policy.unknownLicenseOutcome = .noncompliant
        let strict = FeedComplianceView(
            context: ComplianceContext(
                feed: "main", index: AdvisoryIndex(advisories: []), policy: policy, exceptions: [], now: Self.now))
        #expect(strict.blocks(complianceRecord("numpy", "1.0", license: "Various"), subdir: "linux-64"))
        #expect(!strict.blocks(complianceRecord("numpy", "1.0", license: "BSD 3-Clause"), subdir: "linux-64"))
    }

    /// The fast path of ``FeedComplianceView/blocks(_:subdir:)`` (licence outcome cached per text, no verdict built
    /// for records no advisory names) agrees with the full verdict on every record of two real repodata files.
    @Test func theFastPathAgreesWithFullVerdictsOnRealRepodata() throws {
        var records: [(record: PackageRecord, subdir: String)] = []
        for file in ["r_linux-64.json", "main_noarch.json"] {
            let document = try JSONValue.parse(Array(try Data(contentsOf: Fixtures.repodata(file))))
            for section in ["packages", "packages.conda"] {
                for (filename, fields) in document[section]?.objectValue ?? [:] {
                    let record = PackageRecord(filename: filename, fields: try #require(fields.objectValue))
                    records.append((record, record.subdir))
                }
            }
        }
        #expect(records.count > 4_000)
        let advisory = OSVAdvisory(
            id: "TEST-R-1",
            affected: [
                OSVAffected(
                    ecosystem: "conda", name: "r-base",
                    ranges: [OSVRange(type: "ECOSYSTEM", events: [.init(.introduced, "3.0"), .init(.fixed, "3.5")])])
            ], databaseSeverity: "HIGH")
        var policy = ResolvedCompliancePolicy.default
        policy.allowedLicenses = ["MIT", "BSD-3-Clause", "GPL-2.0-only", "GPL-3.0-only", "LGPL-2.0-only"]
        policy.blockedLicenses = ["AGPL-3.0-only"]
        let context = ComplianceContext(
            feed: "r", index: AdvisoryIndex(advisories: [advisory]), policy: policy,
            exceptions: [ComplianceException(packagePattern: "r-a*", reason: "reviewed")], now: Self.now)
        let view = FeedComplianceView(context: context)
        var blocked = 0
        var byAdvisory = 0
        for (record, subdir) in records {
            let verdict = context.verdict(for: record, subdir: subdir)
            #expect(view.blocks(record, subdir: subdir) == verdict.blocks, "\(record.filename)")
            if verdict.blocks { blocked += 1 }
            if verdict.blocks && !verdict.vulnerabilities.isEmpty { byAdvisory += 1 }
        }
        #expect(blocked > 100 && blocked < records.count - 100, "\(blocked) of \(records.count) blocked")
        #expect(byAdvisory > 0)
        // The table gives the same answers as the on-the-fly path.
        let table = FeedComplianceView(context: context, records: records)
        #expect(table.blockedVerdicts.count == blocked)
    }

    @Test func everyFixturePackageGetsAVerdict() throws {
        let index = try Self.flaskIndex()
        var blocked: [String] = []
        for url in try Fixtures.allPackages() {
            let inspected = try PackageInspector().inspect(file: url, filename: url.lastPathComponent)
            let verdict = evaluate(inspected.record, index: index)
            #expect(verdict.results.contains { $0.rule == .license })
            if verdict.blocks { blocked.append(url.lastPathComponent) }
        }
        #expect(blocked == ["flask-0.11.1-py_0.tar.bz2"])
    }
}
