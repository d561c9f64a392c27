import Foundation
import HTTPTypes
import Hummingbird
import SluiceCore

/// The promotion API (ProGet's `/api/promotions`, extended for conda):
/// - `POST /api/promotions/promote` promotes every file of a package version (narrowed by `subdir`, `build`,
///   `filename`) from one feed into a hosted feed;
/// - `POST /api/promotions/promote-environment` promotes every file an environment file lists, all or nothing;
/// - `GET /api/promotions/list` lists the history.
///
/// Promoting needs Promote Packages on the source feed (``PromotionAuthorizer``, by default
/// ``AccessControlPromotionAuthorizer``); the history shows only promotions between feeds the caller may view.
struct PromotionController: Sendable {
    let services: SluiceServices
    /// Who may promote; nil → ``AccessControlPromotionAuthorizer`` over `services.access`.
    var authorizer: (any PromotionAuthorizer)? = nil

    private var promotionAuthorizer: any PromotionAuthorizer {
        authorizer ?? AccessControlPromotionAuthorizer(access: services.access)
    }

    private var service: PromotionService { PromotionService(services: services) }

    /// Adds the routes to `group` (`/api/promotions`).
    func addRoutes(to group: RouterGroup<SluiceRequestContext>) {
        group.post("promote", use: promote)
        group.post("promote-environment", use: promoteEnvironment)
        group.get("list", use: list)
    }

    // MARK: Promote one package version

    /// `POST /api/promotions/promote` with a JSON or form body `{"fromFeed","toFeed","name","version","comments"?,
    /// "subdir"?,"build"?,"filename"?}`: promotes every matching file the source feed serves (fetching and verifying
    /// upstream files of a proxy source first) in one transaction and republishes the target's changed subdirs →
    /// 200 `{"fromFeed","toFeed","name","version","comments","promoted","alreadyPromoted","message","files":[{"subdir",
    /// "filename","build","sha256","size","result":"promoted"|"alreadyPromoted","id"?}]}`.
    ///
    /// Throws `.invalidInput` (400) for a missing field, the same feed twice or a proxy target; `.notFound` (404) for
    /// an unknown feed, package, version or narrowed file (the message names what is missing); `.conflict` (409) when
    /// the target holds one of the file names with other bytes; `.upstreamUnavailable` (502) when an upstream file
    /// fails verification. Nothing is promoted when any of these is thrown.
    @Sendable func promote(request: Request, context: SluiceRequestContext) async throws -> Response {
        let fields = try await RequestFields.read(from: request)
        let fromName = try Self.required(fields, "fromFeed")
        let toName = try Self.required(fields, "toFeed")
        let name = try Self.required(fields, "name")
        let version = try Self.required(fields, "version")
        let comments = try fields.string("comments") ?? ""
        let subdir = try Self.optional(fields, "subdir")
        let build = try Self.optional(fields, "build")
        let filename = try Self.optional(fields, "filename")
        try await promotionAuthorizer.authorizePromotion(
            identity: context.identity, fromFeed: fromName, toFeed: toName)
        let (from, to) = try await service.feeds(from: fromName, to: toName)

        let subdirs: [String]
        if let subdir {
            subdirs = [subdir]
        } else {
            subdirs = try await service.sourceSubdirs(of: from)
        }
        var ofName: [PromotionCandidate] = []
        for candidateSubdir in subdirs {
            ofName += try await service.candidates(feed: from.name, subdir: candidateSubdir).values
                .filter { $0.record.name == name }
        }
        let ofVersion = ofName.filter { $0.record.version == version }
        let matches =
            ofVersion
            .filter { (build == nil || $0.record.build == build) && (filename == nil || $0.filename == filename) }
            .sorted { ($0.subdir, $0.filename) < ($1.subdir, $1.filename) }
        let searched = subdirs.joined(separator: ", ")
        guard !ofName.isEmpty else {
            throw SluiceError.notFound(
                "Feed '\(from.name)' has no package '\(name)' "
                    + "(searched subdirs: \(searched.isEmpty ? "none" : searched)"
                    + "; name a subdir to search an upstream subdir nobody has asked for yet).")
        }
        guard !ofVersion.isEmpty else {
            let versions = Set(ofName.map(\.record.version)).sorted().joined(separator: ", ")
            throw SluiceError.notFound(
                "Feed '\(from.name)' has package '\(name)' but not version '\(version)' (it has: \(versions)).")
        }
        guard !matches.isEmpty else {
            let files = ofVersion.map { "\($0.subdir)/\($0.filename)" }.sorted().joined(separator: ", ")
            throw SluiceError.notFound(
                "Feed '\(from.name)' has '\(name)' \(version), but no file with"
                    + (build.map { " build '\($0)'" } ?? "") + (filename.map { " file name '\($0)'" } ?? "")
                    + (subdir.map { " in subdir '\($0)'" } ?? "") + " (it has: \(files)).")
        }

        let date = Date()
        let rows = try await service.targetRows(
            for: matches, from: from, to: to, user: context.userName, date: date)
        let batch = PromotionBatch(
            fromFeed: from.name, toFeed: to.name, packages: rows, user: context.userName, comments: comments,
            date: date)
        let results = try await service.commit(batch, logger: context.logger)
        let promoted = results.count { if case .promoted = $0 { true } else { false } }
        let already = results.count - promoted
        let message =
            promoted == 0
            ? "\(name) \(version) was already promoted to '\(to.name)': nothing changed."
            : "Promoted \(promoted) file(s) of \(name) \(version) from '\(from.name)' to '\(to.name)'"
                + (already > 0 ? "; \(already) already there." : ".")
        return JSONResponse.make(
            .object([
                "fromFeed": .string(from.name), "toFeed": .string(to.name), "name": .string(name),
                "version": .string(version), "comments": .string(comments), "promoted": .int(Int64(promoted)),
                "alreadyPromoted": .int(Int64(already)), "message": .string(message),
                "files": .array(zip(rows, results).map { Self.fileJSON(row: $0, result: $1) }),
            ]))
    }

    // MARK: Promote an environment

    /// `POST /api/promotions/promote-environment` with a JSON or form body `{"fromFeed","toFeed","environment",
    /// "comments"?,"dryRun"?}`, where `environment` is the text of an explicit file, a conda-lock file or a pixi.lock
    /// file (see ``EnvironmentFile``). Every listed file is looked up in the source feed by subdir and file name and
    /// its checksums compared; then all are promoted in one transaction, or none.
    ///
    /// Answers 200 `{"format","fromFeed","toFeed","dryRun","promoted","alreadyPromoted","lines":[{"line","url",
    /// "subdir","filename","sha256","status","message"?,"id"?}]}` where `status` is `promoted`, `alreadyPromoted`,
    /// `wouldPromote` (dry run) or `skipped` (pip/PyPI entries). When any line fails: 422
    /// `{"error":"invalidInput","message",...same report...}` with `notFound`, `checksumMismatch` or `conflict` lines,
    /// and nothing is promoted. Throws `.invalidInput` (400) for a malformed file (naming the line) or a missing field,
    /// the errors of ``promote(request:context:)`` for the feeds, and `.upstreamUnavailable` (502) when an upstream
    /// file fails verification.
    @Sendable func promoteEnvironment(request: Request, context: SluiceRequestContext) async throws -> Response {
        let fields = try await RequestFields.read(from: request)
        let fromName = try Self.required(fields, "fromFeed")
        let toName = try Self.required(fields, "toFeed")
        let text = try Self.required(fields, "environment")
        let comments = try fields.string("comments") ?? ""
        let dryRun = try fields.bool("dryRun") ?? false
        try await promotionAuthorizer.authorizePromotion(
            identity: context.identity, fromFeed: fromName, toFeed: toName)
        let (from, to) = try await service.feeds(from: fromName, to: toName)
        let environment = try EnvironmentFile.parse(text)

        // Resolve every line; one file listed twice (a noarch file in every platform of a lock file) counts once.
        var bySubdir: [String: [String: PromotionCandidate]] = [:]
        var lines: [JSONValue] = []
        var failures = 0
        var chosen: [PromotionCandidate] = []
        var lineOfFile: [String: [Int]] = [:]
        var seen = Set<String>()
        var already = Set<String>()
        for entry in environment.entries {
            let key = "\(entry.subdir)/\(entry.filename)"
            var line: [String: JSONValue] = [
                "line": .int(Int64(entry.line)), "url": .string(entry.url), "subdir": .string(entry.subdir),
                "filename": .string(entry.filename),
            ]
            func fail(_ status: String, _ message: String) {
                line["status"] = .string(status)
                line["message"] = .string(message)
                failures += 1
            }
            if bySubdir[entry.subdir] == nil {
                bySubdir[entry.subdir] = try await service.candidates(feed: from.name, subdir: entry.subdir)
            }
            if let candidate = bySubdir[entry.subdir]?[entry.filename] {
                let record = candidate.record
                line["sha256"] = record.sha256.isEmpty ? .null : .string(record.sha256)
                if let sha256 = entry.sha256, !record.sha256.isEmpty, sha256 != record.sha256.lowercased() {
                    fail("checksumMismatch", "sha256 \(sha256) differs from the feed's \(record.sha256).")
                } else if let md5 = entry.md5, !record.md5.isEmpty, md5 != record.md5.lowercased() {
                    fail("checksumMismatch", "md5 \(md5) differs from the feed's \(record.md5).")
                } else if let existing = try await services.metadata.package(
                    feed: to.name, subdir: entry.subdir, filename: entry.filename)
                {
                    if !record.sha256.isEmpty && existing.sha256 != record.sha256.lowercased() {
                        fail(
                            "conflict",
                            "Feed '\(to.name)' already holds this file name with other bytes "
                                + "(sha256 \(existing.sha256)).")
                    } else {
                        line["status"] = .string("alreadyPromoted")
                        already.insert(key)
                    }
                } else {
                    line["status"] = .string(dryRun ? "wouldPromote" : "promoted")
                }
                if line["message"] == nil, seen.insert(key).inserted {
                    chosen.append(candidate)
                }
                lineOfFile[key, default: []].append(lines.count)
            } else {
                fail("notFound", "Feed '\(from.name)' does not serve \(key).")
            }
            lines.append(.object(line))
        }
        for skipped in environment.skipped {
            lines.append(
                .object([
                    "line": .int(Int64(skipped.line)), "url": .string(skipped.text), "status": .string("skipped"),
                    "message": .string(skipped.reason),
                ]))
        }
        func report(promoted: Int, alreadyPromoted: Int) -> [String: JSONValue] {
            [
                "format": .string(environment.format.rawValue), "fromFeed": .string(from.name),
                "toFeed": .string(to.name), "dryRun": .bool(dryRun), "promoted": .int(Int64(promoted)),
                "alreadyPromoted": .int(Int64(alreadyPromoted)), "lines": .array(lines),
            ]
        }
        guard failures == 0 else {
            // Nothing is promoted, so lines that would have been say `resolved`, not `promoted`.
            lines = lines.map { line in
                guard var object = line.objectValue,
                    ["promoted", "wouldPromote"].contains(object["status"]?.stringValue ?? "")
                else { return line }
                object["status"] = .string("resolved")
                return .object(object)
            }
            var body = report(promoted: 0, alreadyPromoted: 0)
            body["error"] = .string(SluiceError.Code.invalidInput.description)
            body["message"] = .string(
                "\(failures) line(s) of the \(environment.format.rawValue) file cannot be promoted from "
                    + "'\(from.name)' to '\(to.name)'; nothing was promoted.")
            return JSONResponse.make(.object(body), status: .unprocessableContent)
        }
        if dryRun {
            return JSONResponse.make(
                .object(report(promoted: chosen.count - already.count, alreadyPromoted: already.count)))
        }

        let date = Date()
        let rows = try await service.targetRows(
            for: chosen, from: from, to: to, user: context.userName, date: date)
        // An entry's checksum is checked again against the bytes that will be promoted (an upstream record may not
        // state the sha256 the entry gives).
        for (row, candidate) in zip(rows, chosen) {
            let entries = environment.entries.filter {
                $0.subdir == candidate.subdir && $0.filename == candidate.filename
            }
            if let wrong = entries.first(where: { $0.sha256 != nil && $0.sha256 != row.sha256 }) {
                throw SluiceError.invalidInput(
                    "Line \(wrong.line): sha256 \(wrong.sha256 ?? "") differs from the fetched file's \(row.sha256); "
                        + "nothing was promoted.")
            }
        }
        let batch = PromotionBatch(
            fromFeed: from.name, toFeed: to.name, packages: rows, user: context.userName,
            comments: comments.isEmpty ? "environment (\(environment.format.rawValue))" : comments, date: date)
        let results = try await service.commit(batch, logger: context.logger)
        var promoted = 0
        for (row, result) in zip(rows, results) {
            let key = "\(row.subdir)/\(row.filename)"
            for index in lineOfFile[key] ?? [] {
                guard case .object(var line) = lines[index] else { continue }
                switch result {
                case .promoted(let record):
                    line["status"] = .string("promoted")
                    line["id"] = .int(record.id)
                case .alreadyPromoted:
                    line["status"] = .string("alreadyPromoted")
                }
                line["sha256"] = .string(row.sha256)
                lines[index] = .object(line)
            }
            if case .promoted = result { promoted += 1 }
        }
        return JSONResponse.make(.object(report(promoted: promoted, alreadyPromoted: results.count - promoted)))
    }

    // MARK: History

    /// `GET /api/promotions/list?fromFeed=&toFeed=&package=&version=` → the history of the feeds the caller may view
    /// (View & Download on both feeds of a promotion), newest first, grouped by package and version:
    /// `[{"name","packageName","version","promotions":[{"id","kind","fromFeed","toFeed","date","user","comments","files":[{"id","subdir","filename","build","sha256"}]}]}]`. One promotion is one call (its `id` is
    /// its batch's); `kind` is `promote`, or `delete` for a file removed from `toFeed` (`fromFeed` null then).
    @Sendable func list(request: Request, context: SluiceRequestContext) async throws -> Response {
        func query(_ key: String) -> String? {
            guard let value = request.uri.queryParameters.get(key), !value.isEmpty else { return nil }
            return value
        }
        let access = services.access
        for feed in [query("fromFeed"), query("toFeed")].compactMap({ $0 }) {
            try await access.require(.viewDownload, feed: feed, identity: context.identity)
        }
        let allRecords = try await services.metadata.promotions(
            fromFeed: query("fromFeed"), toFeed: query("toFeed"), package: query("package"),
            version: query("version"))
        // Only promotions between feeds the caller may view (an anonymous caller who may view nothing is asked to
        // sign in).
        var feedNames = Set(try await services.metadata.feeds().map(\.name))
        for record in allRecords {
            feedNames.insert(record.toFeed)
            if let fromFeed = record.fromFeed { feedNames.insert(fromFeed) }
        }
        let viewable = try await access.viewableFeeds(feedNames, identity: context.identity)
        try access.requireSomeViewableFeed(viewable, among: feedNames, identity: context.identity)
        let records = allRecords.filter { record in
            viewable.contains(record.toFeed) && (record.fromFeed.map(viewable.contains) ?? true)
        }
        struct GroupKey: Hashable {
            var name: String
            var version: String
        }
        var groupOrder: [GroupKey] = []
        var groups: [GroupKey: [[PromotionRecord]]] = [:]
        for record in records {
            let key = GroupKey(name: record.name, version: record.version)
            if groups[key] == nil { groupOrder.append(key) }
            var promotions = groups[key, default: []]
            if let last = promotions.last?.first, last.batch == record.batch {
                promotions[promotions.count - 1].append(record)
            } else {
                promotions.append([record])
            }
            groups[key] = promotions
        }
        return JSONResponse.make(
            .array(
                groupOrder.map { key in
                    .object([
                        "name": .string(key.name), "packageName": .string(key.name), "version": .string(key.version),
                        "promotions": .array((groups[key] ?? []).map(Self.promotionJSON)),
                    ])
                }))
    }

    // MARK: JSON

    static func promotionJSON(_ rows: [PromotionRecord]) -> JSONValue {
        guard let first = rows.first else { return .null }
        let files = rows.sorted { ($0.subdir, $0.filename) < ($1.subdir, $1.filename) }
        return .object([
            "id": .int(first.batch), "kind": .string(first.kind.rawValue),
            "fromFeed": first.fromFeed.map(JSONValue.string) ?? .null, "toFeed": .string(first.toFeed),
            "date": JSONResponse.timestamp(first.date), "user": first.user.map(JSONValue.string) ?? .null,
            "comments": .string(first.comments),
            "files": .array(
                files.map {
                    .object([
                        "id": .int($0.id), "subdir": .string($0.subdir), "filename": .string($0.filename),
                        "build": .string($0.build), "sha256": .string($0.sha256),
                    ])
                }),
        ])
    }

    static func fileJSON(row: StoredPackage, result: PromotionResult) -> JSONValue {
        var object: [String: JSONValue] = [
            "subdir": .string(row.subdir), "filename": .string(row.filename), "build": .string(row.build),
            "sha256": .string(row.sha256), "size": .int(row.size),
        ]
        switch result {
        case .promoted(let record):
            object["result"] = .string("promoted")
            object["id"] = .int(record.id)
        case .alreadyPromoted:
            object["result"] = .string("alreadyPromoted")
        }
        return .object(object)
    }

    static func required(_ fields: RequestFields, _ key: String) throws -> String {
        guard let value = try fields.string(key), !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw SluiceError.invalidInput("The request body needs '\(key)'.")
        }
        return value
    }

    static func optional(_ fields: RequestFields, _ key: String) throws -> String? {
        guard let value = try fields.string(key), !value.isEmpty else { return nil }
        return value
    }
}
