import Foundation
import Hummingbird
import SluiceCore

/// The compliance side of the UI: the vulnerability data and policies read from the ``ComplianceStore``, verdicts
/// from the server's ``ComplianceStoreGate`` (the same views that decide what a blocking feed publishes), and the
/// "Create New Feed" switches applied through the ``ComplianceService`` (which logs the change and republishes).
extension WebUIController {
    func addComplianceRoutes(to ui: RouterGroup<SluiceRequestContext>) {
        ui.get("admin/vulnerabilities", use: vulnerabilitiesPage)
        ui.get("admin/policies", use: policiesPage)
    }

    var complianceStore: (any ComplianceStore)? { services.compliance?.store }

    /// The vulnerability and licence switches of "Create New Feed" (disabled, with a note, without a compliance
    /// service).
    func complianceSwitches() async -> [String: Any] {
        guard services.compliance != nil else {
            return [
                "available": false,
                "note": "This server has no compliance data store, so packages cannot be checked.",
            ]
        }
        return [
            "available": true,
            "note":
                "Checked packages that fail the policy are hidden from the new feeds and refused. "
                + "The rules are on the Policies page.",
        ]
    }

    /// Applies the switches of a "Create New Feed" form to the new feeds through the ``ComplianceService``: either
    /// switch turns on blocking of noncompliant packages; with only one of them, the feed gets a policy under which
    /// the other rule only warns.
    func applyComplianceSwitches(_ form: WebForm, feeds: [String], context: SluiceRequestContext) async throws {
        guard let compliance = services.compliance else { return }
        let vulnerabilities = form.isChecked("blockVulnerable")
        let licenses = form.isChecked("checkLicenses")
        guard vulnerabilities || licenses else { return }
        let actor = WebUIRequest.viewer.identity.actorName
        for feed in feeds {
            if vulnerabilities != licenses {
                let policy =
                    vulnerabilities
                    ? CompliancePolicy(notAllowedLicenseOutcome: .warn, unknownLicenseOutcome: .warn)
                    : CompliancePolicy(vulnerabilityNoncompliantAt: .never)
                _ = try await compliance.setFeedPolicy(
                    policy, feed: feed, actor: actor, remoteAddress: context.remoteAddress)
            }
            _ = try await compliance.setBlocking(true, feed: feed, actor: actor, remoteAddress: context.remoteAddress)
        }
    }

    /// The compliance panel of a package page: the newest file's verdict under the feed's resolved policy — its
    /// vulnerabilities, licence result and outcome.
    func complianceSummary(feed: String, files: [PackageIndexEntry]) async -> [String: Any] {
        guard let gate = services.complianceGate, let newest = files.first else {
            return ["available": false, "note": "This server has no compliance data store."]
        }
        let context: ComplianceContext
        do {
            context = try await gate.context(feed: feed)
        } catch {
            return ["available": false, "note": "The compliance data could not be read."]
        }
        let verdict = context.verdict(for: newest.record, subdir: newest.subdir)
        let blocking = (try? await complianceStore?.blocksNoncompliant(feed: feed)) ?? false
        let licenseResult = verdict.results.first { $0.rule == .license }
        return [
            "available": true,
            "outcome": verdict.effectiveOutcome.rawValue, "outcomeClass": Self.outcomeClass(verdict.effectiveOutcome),
            "licenseResult": licenseResult?.outcome.rawValue ?? "compliant",
            "licenseClass": Self.outcomeClass(licenseResult?.outcome ?? .compliant),
            "licenseDetail": verdict.license.spdx ?? verdict.license.original ?? "no licence given",
            "advisories": verdict.vulnerabilities.map { finding -> [String: Any] in
                [
                    "id": finding.advisoryIDs.first ?? "", "summary": finding.summary,
                    "severity": finding.severity?.rawValue ?? "unknown",
                    "severityClass": Self.severityClass(finding.severity),
                    "versions": finding.fixedVersions.isEmpty
                        ? "no fix known" : "fixed in " + finding.fixedVersions.joined(separator: ", "),
                ]
            },
            "hasAdvisories": !verdict.vulnerabilities.isEmpty,
            "verdict": verdict.reasons.isEmpty ? nil as String? : verdict.reasons.joined(separator: " "),
            "exception": verdict.exception.map { "Excepted: \($0.reason)" } as Any?,
            "blocking": blocking,
        ]
    }

    static func outcomeClass(_ outcome: ComplianceOutcome) -> String {
        switch outcome {
        case .compliant: "healthy"
        case .warn: "degraded"
        case .noncompliant: "unavailable"
        }
    }

    static func severityClass(_ level: SeverityLevel?) -> String {
        guard let level else { return "degraded" }
        return level >= .high ? "unavailable" : "degraded"
    }

    /// `GET /ui/admin/vulnerabilities`: the vulnerability data — how many advisories, the import history, the name
    /// mappings, the newest advisories, and which feeds block noncompliant packages. Needs Administer.
    @Sendable func vulnerabilitiesPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await access.require(.administer, feed: nil, viewer: WebUIRequest.viewer)
        guard let store = complianceStore else {
            throw SluiceError.notFound("This server has no compliance data store.")
        }
        let advisories = try await store.advisories()
        let imports = try await store.advisoryImports(limit: 20).map { record -> [String: Any] in
            [
                "source": record.source, "at": WebUIFormat.date(record.importedAt),
                "by": record.importedBy ?? "scheduler",
                "added": record.added, "updated": record.updated, "unchanged": record.unchanged,
                "skipped": record.skipped,
            ]
        }
        let newest = advisories.sorted { $0.updatedAt > $1.updatedAt }.prefix(50).map { stored -> [String: Any] in
            let level = stored.advisory.severityLevel
            return [
                "id": stored.advisory.id, "summary": stored.advisory.summary,
                "severity": level?.rawValue ?? "unknown", "severityClass": Self.severityClass(level),
                "packages": Set(stored.advisory.affected.map(\.name)).sorted().joined(separator: ", "),
                "updated": WebUIFormat.date(stored.updatedAt), "withdrawn": stored.advisory.withdrawn != nil,
            ]
        }
        return await page(
            "vulnerabilities", title: "Vulnerability Data",
            data: [
                "advisoryCount": WebUIFormat.count(advisories.count),
                "lastImport": imports.first?["at"] as Any?,
                "imports": imports, "advisories": newest,
                "mappingCount": try await store.packageNameMappings().count,
                "blockingFeeds": try await store.feedsBlockingNoncompliant(),
            ],
            active: "vulnerabilities")
    }

    /// `GET /ui/admin/policies`: the global compliance policy (with the defaults that apply where it says nothing),
    /// each feed's own policy and resolved result and whether it blocks, and the exceptions. Needs Administer.
    @Sendable func policiesPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await access.require(.administer, feed: nil, viewer: WebUIRequest.viewer)
        guard let store = complianceStore else {
            throw SluiceError.notFound("This server has no compliance data store.")
        }
        let global = try await store.globalCompliancePolicy()
        var feeds: [[String: Any]] = []
        for feed in try await services.metadata.feeds() {
            let own = try await store.compliancePolicy(feed: feed.name)
            feeds.append([
                "name": feed.name, "href": "/ui/feeds/\(WebUIFormat.urlComponent(feed.name))",
                "ownPolicy": own != nil, "blocks": try await store.blocksNoncompliant(feed: feed.name),
                "resolved": Self.policyRows(CompliancePolicy.resolved(global: global, feed: own)),
            ])
        }
        let exceptions = try await store.complianceExceptions().map { exception -> [String: Any] in
            [
                "id": exception.id, "feed": exception.feed ?? "all feeds", "package": exception.packagePattern,
                "versions": exception.versionSpec ?? "all versions", "reason": exception.reason,
                "expires": exception.expiresAt.map(WebUIFormat.date) ?? "never",
                "createdBy": exception.createdBy ?? "—",
            ]
        }
        return await page(
            "policies", title: "Policies",
            data: [
                "global": Self.policyRows(CompliancePolicy.resolved(global: global, feed: nil)),
                "feeds": feeds, "exceptions": exceptions,
            ],
            active: "policies")
    }

    /// A resolved policy as label/value rows.
    static func policyRows(_ policy: ResolvedCompliancePolicy) -> [[String: Any]] {
        [
            ["label": "Noncompliant at severity", "value": policy.vulnerabilityNoncompliantAt.rawValue],
            ["label": "Warn at severity", "value": policy.vulnerabilityWarnAt.rawValue],
            ["label": "Unknown severity", "value": policy.unknownSeverityOutcome.rawValue],
            ["label": "Allowed licences", "value": policy.allowedLicenses?.joined(separator: ", ") ?? "any"],
            [
                "label": "Blocked licences",
                "value": policy.blockedLicenses.isEmpty ? "none" : policy.blockedLicenses.joined(separator: ", "),
            ],
            ["label": "Licence not allowed", "value": policy.notAllowedLicenseOutcome.rawValue],
            ["label": "Unknown licence", "value": policy.unknownLicenseOutcome.rawValue],
        ]
    }
}
