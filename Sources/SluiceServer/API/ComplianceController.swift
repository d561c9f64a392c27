import Foundation
import Hummingbird
import NIOCore
import SluiceCore

/// The compliance REST API under `/api/compliance`: advisory import and status, the compliance of a package, the
/// noncompliant packages of a feed, the global and per-feed policies, each feed's blocking switch, exceptions and
/// PyPI → conda name mappings.
///
/// Authorization: reads about one feed need `view` on that feed; global reads (advisories, import status, the global
/// policy, exceptions, mappings) need a signed-in identity or `view` on all feeds (the default install grants that to
/// anonymous users); every change needs `administer`. Errors are the usual `{"error","message"}`; without a
/// compliance store every route answers 404.
struct ComplianceController: Sendable {
    let services: SluiceServices

    /// The largest advisory upload (a zip of a whole ecosystem is a few hundred MiB at most).
    static let maximumImportSize = 512 << 20

    func addRoutes(to group: RouterGroup<SluiceRequestContext>) {
        group.post("advisories/import", use: importAdvisories)
        group.get("advisories", use: listAdvisories)
        group.get("advisories/list", use: listAdvisories)
        group.get("advisories/status", use: status)
        group.get("packages/{feed}/{name}", use: package)
        group.get("feeds/{feed}/noncompliant", use: noncompliant)
        group.get("policy", use: globalPolicy)
        group.put("policy", use: setGlobalPolicy)
        group.post("policy", use: setGlobalPolicy)
        group.get("feeds/{feed}/policy", use: feedPolicy)
        group.put("feeds/{feed}/policy", use: setFeedPolicy)
        group.post("feeds/{feed}/policy", use: setFeedPolicy)
        group.delete("feeds/{feed}/policy", use: deleteFeedPolicy)
        group.get("feeds/{feed}/blocking", use: blocking)
        group.post("feeds/{feed}/blocking", use: setBlocking)
        group.get("exceptions", use: listExceptions)
        group.get("exceptions/list", use: listExceptions)
        group.post("exceptions/create", use: createException)
        group.post("exceptions/delete/{id}", use: deleteException)
        group.delete("exceptions/delete/{id}", use: deleteException)
        group.get("mappings", use: listMappings)
        group.get("mappings/list", use: listMappings)
        group.post("mappings/add", use: addMapping)
        group.post("mappings/delete", use: deleteMapping)
        group.delete("mappings/delete", use: deleteMapping)
    }

    // MARK: Helpers

    private func service() throws -> ComplianceService {
        guard let service = services.compliance else {
            throw SluiceError.notFound("Compliance is not available: the metadata store does not keep compliance data.")
        }
        return service
    }

    /// Global reads: a signed-in identity, or one that may view every feed.
    private func requireGlobalRead(_ context: SluiceRequestContext) async throws {
        if !context.identity.isAnonymous { return }
        try await services.access.require(.viewDownload, feed: nil, identity: context.identity)
    }

    private func requireAdminister(_ context: SluiceRequestContext) async throws {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
    }

    private func feedParameter(_ context: SluiceRequestContext) throws -> String {
        try context.parameters.require("feed")
    }

    /// Encodes a Codable value as the API's JSON (dates ISO 8601).
    static func json(_ value: some Encodable) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        return try JSONValue.parse(Array(try encoder.encode(value)))
    }

    /// A verdict with `"blocked"` added (whether a blocking feed hides it).
    static func verdictJSON(_ verdict: ComplianceVerdict) throws -> JSONValue {
        guard case .object(var object) = try json(verdict) else { return .null }
        object["blocked"] = .bool(verdict.blocks)
        return .object(object)
    }

    private static func summaryJSON(_ summary: ComplianceService.ChangeSummary) throws -> JSONValue {
        try json(summary)
    }

    private static func readBody(_ request: Request, limit: Int) async throws -> [UInt8] {
        do {
            return Array(try await request.body.collect(upTo: limit).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw SluiceError(.payloadTooLarge, "The request body is larger than \(limit) bytes.")
        }
    }

    private static func decodePolicy(_ request: Request) async throws -> CompliancePolicy {
        let bytes = try await readBody(request, limit: RequestFields.maximumBodySize)
        do {
            return try JSONDecoder().decode(CompliancePolicy.self, from: Data(bytes))
        } catch {
            throw SluiceError(
                .invalidInput,
                "The policy is not valid: send a JSON object with any of vulnerabilityNoncompliantAt, "
                    + "vulnerabilityWarnAt (low|medium|high|critical|never), unknownSeverityOutcome, "
                    + "notAllowedLicenseOutcome, unknownLicenseOutcome (compliant|warn|noncompliant), "
                    + "allowedLicenses, blockedLicenses (lists of SPDX ids).", cause: error)
        }
    }

    // MARK: Advisories

    /// `POST /api/compliance/advisories/import[?source=...]`: the body is OSV JSON (one advisory, an array, or
    /// `{"vulns": [...]}`) or a zip of OSV JSON files (`Content-Type: application/zip`, or recognised by its
    /// signature). → `{"record": {"id","source","importedAt","importedBy","added","updated","unchanged","skipped"},
    /// "skippedFiles": [..], "changes": {"feeds","blocked","unblocked"}}`. Needs `administer`; 400 for malformed data.
    @Sendable func importAdvisories(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let service = try service()
        let bytes = try await Self.readBody(request, limit: Self.maximumImportSize)
        guard !bytes.isEmpty else { throw SluiceError.invalidInput("The body is empty; send OSV JSON or a zip.") }
        let source = request.uri.queryParameters["source"].map(String.init).flatMap { $0.isEmpty ? nil : $0 } ?? "api"
        let summary = try await service.importAdvisories(
            bytes: bytes, source: source, actor: context.identity.actorName, remoteAddress: context.remoteAddress)
        return JSONResponse.make(try Self.json(summary))
    }

    /// `GET /api/compliance/advisories[?q=text&limit=100]` → `[{"id","aliases","summary","severity","score",
    /// "affected":[{"ecosystem","name","fixed":[..]}],"source","importedAt","updatedAt","withdrawn"}]`, ordered by id;
    /// `q` matches the id, an alias, a package name or the summary (case-insensitive).
    @Sendable func listAdvisories(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireGlobalRead(context)
        let service = try service()
        let query = request.uri.queryParameters
        let text = query["q"].map { String($0).lowercased() } ?? query["query"].map { String($0).lowercased() }
        var limit = 1000
        if let raw = query["limit"].map(String.init) {
            guard let number = Int(raw), number > 0 else {
                throw SluiceError.invalidInput("'limit' must be a positive whole number (got '\(raw)').")
            }
            limit = number
        }
        var result: [JSONValue] = []
        for stored in try await service.store.advisories() {
            let advisory = stored.advisory
            if let text, !text.isEmpty {
                let haystack =
                    advisory.allIDs + advisory.affected.map(\.name) + [advisory.summary]
                guard haystack.contains(where: { $0.lowercased().contains(text) }) else { continue }
            }
            result.append(
                .object([
                    "id": .string(advisory.id),
                    "aliases": .array(advisory.aliases.map(JSONValue.string)),
                    "summary": .string(advisory.summary),
                    "severity": advisory.severityLevel.map { .string($0.rawValue) } ?? .null,
                    "score": advisory.cvssScore.map(JSONValue.double) ?? .null,
                    "affected": .array(
                        advisory.affected.map {
                            .object([
                                "ecosystem": .string($0.ecosystem), "name": .string($0.name),
                                "fixed": .array($0.fixedVersions.map(JSONValue.string)),
                            ])
                        }),
                    "source": .string(stored.source),
                    "importedAt": JSONResponse.timestamp(stored.importedAt),
                    "updatedAt": JSONResponse.timestamp(stored.updatedAt),
                    "withdrawn": .bool(advisory.withdrawn != nil),
                ]))
            if result.count >= limit { break }
        }
        return JSONResponse.make(.array(result))
    }

    /// `GET /api/compliance/advisories/status` → `{"count", "imports": [import records, newest first, at most 20]}`.
    @Sendable func status(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireGlobalRead(context)
        let service = try service()
        let count = try await service.store.advisories().count
        let imports = try await service.store.advisoryImports(limit: 20)
        return JSONResponse.make(.object(["count": .int(Int64(count)), "imports": try Self.json(imports)]))
    }

    // MARK: Reports

    /// `GET /api/compliance/packages/{feed}/{name}[?version=]` → `{"feed","name","blocking","builds":[verdict]}`
    /// where a verdict is `{"filename","subdir","name","version","outcome","effectiveOutcome","blocked","exception",
    /// "results":[{"rule","outcome","reason","advisoryIDs"}],"vulnerabilities":[{"advisoryIDs","aliases","summary",
    /// "severity","cvssScore","fixedVersions","matchReasons"}],"license":{"original","spdx","known","unknownParts"}}`.
    /// Needs `view` on the feed; 404 when the feed has no such package.
    @Sendable func package(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try feedParameter(context)
        let name = try context.parameters.require("name")
        try await services.access.require(.viewDownload, feed: feed, identity: context.identity)
        let service = try service()
        let version = request.uri.queryParameters["version"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let verdicts = try await service.verdicts(feed: feed, name: name, version: version)
        return JSONResponse.make(
            .object([
                "feed": .string(feed), "name": .string(name),
                "blocking": .bool(try await service.store.blocksNoncompliant(feed: feed)),
                "builds": .array(try verdicts.map(Self.verdictJSON)),
            ]))
    }

    /// `GET /api/compliance/feeds/{feed}/noncompliant` → `{"feed","blocking","packages":[verdict]}`: every file
    /// of the feed whose outcome is noncompliant (`blocked` false when an exception covers it). Needs `view` on the
    /// feed.
    @Sendable func noncompliant(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try feedParameter(context)
        try await services.access.require(.viewDownload, feed: feed, identity: context.identity)
        let service = try service()
        let verdicts = try await service.verdicts(feed: feed).filter { $0.outcome == .noncompliant }
        return JSONResponse.make(
            .object([
                "feed": .string(feed),
                "blocking": .bool(try await service.store.blocksNoncompliant(feed: feed)),
                "packages": .array(try verdicts.map(Self.verdictJSON)),
            ]))
    }

    // MARK: Policies

    /// `GET /api/compliance/policy` → the global policy (fields left out inherit the defaults) and `"resolved"`, the
    /// policy in effect with the defaults filled in.
    @Sendable func globalPolicy(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireGlobalRead(context)
        let policy = try await service().store.globalCompliancePolicy()
        return JSONResponse.make(
            .object([
                "policy": try Self.json(policy),
                "resolved": try Self.json(CompliancePolicy.resolved(global: policy, feed: nil)),
            ]))
    }

    /// `PUT /api/compliance/policy` with a policy object → `{"policy","changes"}`. Needs `administer`.
    @Sendable func setGlobalPolicy(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let policy = try await Self.decodePolicy(request)
        let changes = try await service().setGlobalPolicy(
            policy, actor: context.identity.actorName, remoteAddress: context.remoteAddress)
        return JSONResponse.make(.object(["policy": try Self.json(policy), "changes": try Self.json(changes)]))
    }

    /// `GET /api/compliance/feeds/{feed}/policy` → `{"feed","policy" (null when none),"resolved","blocking"}`. Needs
    /// `view` on the feed.
    @Sendable func feedPolicy(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try feedParameter(context)
        try await services.access.require(.viewDownload, feed: feed, identity: context.identity)
        let store = try service().store
        guard try await services.metadata.feed(named: feed) != nil else {
            throw SluiceError.notFound("There is no feed named '\(feed)'.")
        }
        let own = try await store.compliancePolicy(feed: feed)
        let resolved = CompliancePolicy.resolved(global: try await store.globalCompliancePolicy(), feed: own)
        return JSONResponse.make(
            .object([
                "feed": .string(feed), "policy": try own.map(Self.json) ?? .null, "resolved": try Self.json(resolved),
                "blocking": .bool(try await store.blocksNoncompliant(feed: feed)),
            ]))
    }

    /// `PUT /api/compliance/feeds/{feed}/policy` with a policy object → `{"feed","policy","changes"}`. Needs
    /// `administer`.
    @Sendable func setFeedPolicy(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try feedParameter(context)
        try await requireAdminister(context)
        let policy = try await Self.decodePolicy(request)
        let changes = try await service().setFeedPolicy(
            policy, feed: feed, actor: context.identity.actorName, remoteAddress: context.remoteAddress)
        return JSONResponse.make(
            .object(["feed": .string(feed), "policy": try Self.json(policy), "changes": try Self.json(changes)]))
    }

    /// `DELETE /api/compliance/feeds/{feed}/policy`: the feed follows the global policy again. Needs `administer`.
    @Sendable func deleteFeedPolicy(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try feedParameter(context)
        try await requireAdminister(context)
        let changes = try await service().setFeedPolicy(
            nil, feed: feed, actor: context.identity.actorName, remoteAddress: context.remoteAddress)
        return JSONResponse.make(.object(["feed": .string(feed), "policy": .null, "changes": try Self.json(changes)]))
    }

    /// `GET /api/compliance/feeds/{feed}/blocking` → `{"feed","enabled"}`. Needs `view` on the feed.
    @Sendable func blocking(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try feedParameter(context)
        try await services.access.require(.viewDownload, feed: feed, identity: context.identity)
        guard try await services.metadata.feed(named: feed) != nil else {
            throw SluiceError.notFound("There is no feed named '\(feed)'.")
        }
        let enabled = try await service().store.blocksNoncompliant(feed: feed)
        return JSONResponse.make(.object(["feed": .string(feed), "enabled": .bool(enabled)]))
    }

    /// `POST /api/compliance/feeds/{feed}/blocking` `{"enabled": bool}` → `{"feed","enabled","changes"}`: turns
    /// "block noncompliant packages" on or off and republishes the feed. Needs `administer`.
    @Sendable func setBlocking(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try feedParameter(context)
        try await requireAdminister(context)
        let fields = try await RequestFields.read(from: request)
        guard let enabled = try fields.bool("enabled") else {
            throw SluiceError.invalidInput("Send {\"enabled\": true} or {\"enabled\": false}.")
        }
        let changes = try await service().setBlocking(
            enabled, feed: feed, actor: context.identity.actorName, remoteAddress: context.remoteAddress)
        return JSONResponse.make(
            .object(["feed": .string(feed), "enabled": .bool(enabled), "changes": try Self.json(changes)]))
    }

    // MARK: Exceptions

    /// `GET /api/compliance/exceptions` → `[{"id","feed","packagePattern","versionSpec","reason","expiresAt",
    /// "createdAt","createdBy","expired"}]`.
    @Sendable func listExceptions(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireGlobalRead(context)
        let now = Date()
        let exceptions = try await service().store.complianceExceptions()
        return JSONResponse.make(
            .array(
                try exceptions.map { exception in
                    guard case .object(var object) = try Self.json(exception) else { return .null }
                    object["expired"] = .bool(exception.expiresAt.map { $0 <= now } ?? false)
                    return .object(object)
                }))
    }

    /// `POST /api/compliance/exceptions/create` `{"package" (or "packagePattern"), "versions"? (or "versionSpec", a
    /// conda version spec), "feed"? (omit for every feed), "reason", "expires"? (ISO 8601)}` → 201
    /// `{"exception","changes"}`. Needs `administer`; 400 for a missing reason or pattern or a bad spec or date.
    @Sendable func createException(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let fields = try await RequestFields.read(from: request)
        guard let pattern = try fields.string("package") ?? fields.string("packagePattern"),
            !pattern.trimmingCharacters(in: .whitespaces).isEmpty
        else {
            throw SluiceError.invalidInput("An exception needs \"package\": a package name or pattern such as 'py*'.")
        }
        guard let reason = try fields.string("reason"), !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SluiceError.invalidInput("An exception needs a \"reason\".")
        }
        let spec = try fields.string("versions") ?? fields.string("versionSpec")
        let feed = try fields.string("feed").flatMap { $0.isEmpty ? nil : $0 }
        var expires: Date?
        if let text = try fields.string("expires") ?? fields.string("expiresAt"), !text.isEmpty {
            expires = Self.parseDate(text)
            guard expires != nil else {
                throw SluiceError.invalidInput(
                    "'expires' must be an ISO 8601 date or time, e.g. 2027-01-31 or 2027-01-31T12:00:00Z "
                        + "(got '\(text)').")
            }
        }
        let exception = ComplianceException(
            feed: feed, packagePattern: pattern, versionSpec: spec.flatMap { $0.isEmpty ? nil : $0 }, reason: reason,
            expiresAt: expires)
        let (stored, changes) = try await service().addException(
            exception, actor: context.identity.actorName, remoteAddress: context.remoteAddress)
        return JSONResponse.make(
            .object(["exception": try Self.json(stored), "changes": try Self.json(changes)]), status: .created)
    }

    static func parseDate(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        return try? Date(text, strategy: Date.ISO8601FormatStyle().year().month().day())
    }

    /// `POST|DELETE /api/compliance/exceptions/delete/{id}` → `{"exception","changes"}`. Needs `administer`; 404 for
    /// an unknown id.
    @Sendable func deleteException(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let raw = try context.parameters.require("id")
        guard let id = Int64(raw) else { throw SluiceError.invalidInput("'\(raw)' is not an exception id.") }
        let (removed, changes) = try await service().deleteException(
            id: id, actor: context.identity.actorName, remoteAddress: context.remoteAddress)
        return JSONResponse.make(.object(["exception": try Self.json(removed), "changes": try Self.json(changes)]))
    }

    // MARK: Mappings

    /// `GET /api/compliance/mappings` → `[{"pypiName","condaName"}]`.
    @Sendable func listMappings(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireGlobalRead(context)
        return JSONResponse.make(try Self.json(try await service().store.packageNameMappings()))
    }

    /// `POST /api/compliance/mappings/add` `{"pypiName","condaName"}` → 201 `{"mapping","changes"}`. Needs
    /// `administer`.
    @Sendable func addMapping(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let fields = try await RequestFields.read(from: request)
        let mapping = PackageNameMapping(
            pypiName: try fields.string("pypiName") ?? "", condaName: try fields.string("condaName") ?? "")
        let changes = try await service().addMapping(
            mapping, actor: context.identity.actorName, remoteAddress: context.remoteAddress)
        return JSONResponse.make(
            .object(["mapping": try Self.json(mapping), "changes": try Self.json(changes)]), status: .created)
    }

    /// `POST|DELETE /api/compliance/mappings/delete` `{"pypiName","condaName"}` → `{"changes"}`. Needs `administer`;
    /// 404 when there is no such mapping.
    @Sendable func deleteMapping(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await requireAdminister(context)
        let fields = try await RequestFields.read(from: request)
        let changes = try await service().removeMapping(
            pypiName: try fields.string("pypiName") ?? "", condaName: try fields.string("condaName") ?? "",
            actor: context.identity.actorName, remoteAddress: context.remoteAddress)
        return JSONResponse.make(.object(["changes": try Self.json(changes)]))
    }
}
