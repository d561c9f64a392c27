import Foundation
import Hummingbird
import SluiceCore

extension WebUIController {
    /// The most versions the package page lists unless asked for all (`?all=1`).
    static let versionsShown = 25

    func addPackageRoutes(to ui: RouterGroup<SluiceRequestContext>) {
        ui.get("feeds/{feed}/packages/{name}", use: packagePage)
        ui.post("feeds/{feed}/packages/{name}/promote", use: promotePackage)
    }

    /// `GET /ui/feeds/{feed}/packages/{name}`: a package's versions and builds per subdir with their metadata
    /// (depends, licence, size, checksums), whether each file is local, cached or only upstream (proxy feeds), the
    /// promotion history, and — for viewers with Promote Packages on the feed — the Promote form.
    @Sendable func packagePage(request: Request, context: SluiceRequestContext) async throws -> Response {
        let viewer = WebUIRequest.viewer
        let feed = try await existingFeed(try context.parameters.require("feed"))
        let name = try context.parameters.require("name")
        try await access.require(.viewDownload, feed: feed.name, viewer: viewer)

        var files: [PackageIndexEntry] = []
        for subdir in try await feedSubdirs(feed) {
            files += try await subdirIndex(feed: feed.name, subdir: subdir)?.files[name] ?? []
        }
        guard !files.isEmpty else {
            throw SluiceError.notFound("Feed '\(feed.name)' has no package named '\(name)'.")
        }
        files = SubdirPackageIndex.newestFirst(files)
        let isProxy = !feed.connectors.isEmpty
        let cached = isProxy ? try await cachedFileKeys(feed) : []
        let feedPath = "/ui/feeds/\(WebUIFormat.urlComponent(feed.name))"

        var versionOrder: [String] = []
        var byVersion: [String: [PackageIndexEntry]] = [:]
        for file in files {
            if byVersion[file.record.version] == nil { versionOrder.append(file.record.version) }
            byVersion[file.record.version, default: []].append(file)
        }
        let showAll = request.uri.queryParameters.get("all") != nil
        let shownVersions = showAll ? versionOrder : Array(versionOrder.prefix(Self.versionsShown))
        // Recorded download counts (flushed every few seconds), per "subdir/filename" of the listed files.
        var downloads: [String: Int64] = [:]
        for row in try await (services.metadata as? any DownloadCountStore)?.downloadCounts(feed: feed.name, name: name)
            ?? []
        {
            downloads["\(row.key.subdir)/\(row.key.filename)"] = row.count
        }
        let downloadTotal = files.reduce(Int64(0)) { $0 + (downloads["\($1.subdir)/\($1.filename)"] ?? 0) }
        let versions: [[String: Any]] = shownVersions.map { version in
            let entries = (byVersion[version] ?? []).sorted { ($0.subdir, $0.filename) < ($1.subdir, $1.filename) }
            return [
                "version": version,
                "files": entries.map { entry -> [String: Any] in
                    var row = Self.fileDetails(entry, feed: feed.name)
                    row["downloads"] = downloads["\(entry.subdir)/\(entry.filename)"] ?? 0
                    if isProxy {
                        let marker = Self.marker([entry], cached: cached)
                        row["marker"] = marker
                        row["markerTitle"] = Self.markerTitle(marker)
                    }
                    return row
                },
            ]
        }
        let newest = files[0]

        let history = try await services.metadata.promotions(
            fromFeed: nil, toFeed: nil, package: name, version: nil
        ).filter { $0.fromFeed == feed.name || $0.toFeed == feed.name }
        var batches: [[PromotionRecord]] = []
        for record in history {
            if let last = batches.last?.first, last.batch == record.batch {
                batches[batches.count - 1].append(record)
            } else {
                batches.append([record])
            }
        }
        let historyRows: [[String: Any]] = batches.map { rows in
            let first = rows[0]
            return [
                "date": WebUIFormat.date(first.date), "kind": first.kind.rawValue,
                "isPromotion": first.kind == .promote, "from": first.fromFeed ?? "", "to": first.toFeed,
                "version": first.version, "files": rows.map { "\($0.subdir)/\($0.filename)" }.joined(separator: ", "),
                "user": first.user ?? "—", "comments": first.comments,
            ]
        }

        let canPromote = await access.allows(.promotePackages, feed: feed.name, identity: viewer.identity)
        var targets: [[String: Any]] = []
        if canPromote {
            for target in try await services.metadata.feeds()
            where target.name != feed.name && target.connectors.isEmpty {
                targets.append(["name": target.name])
            }
        }
        return await page(
            "package", title: "\(name) · \(feed.name)",
            data: [
                "feed": feed.name, "feedHref": feedPath, "name": name, "isProxy": isProxy,
                "newest": Self.fileDetails(newest, feed: feed.name),
                "versionCount": versionOrder.count, "fileCount": files.count,
                "versions": versions,
                "moreVersions": showAll || versionOrder.count <= Self.versionsShown
                    ? nil as String? : "\(feedPath)/packages/\(WebUIFormat.urlComponent(name))?all=1",
                "hidden": versionOrder.count - shownVersions.count,
                "history": historyRows, "hasHistory": !historyRows.isEmpty, "downloadTotal": downloadTotal,
                "canPromote": canPromote && !targets.isEmpty, "promoteTargets": targets,
                "promoteVersions": versionOrder.map { ["version": $0] },
                "promoteAction": "\(feedPath)/packages/\(WebUIFormat.urlComponent(name))/promote",
                "noTargets": canPromote && targets.isEmpty,
                "compliance": await complianceSummary(feed: feed.name, files: files),
            ],
            active: "feeds")
    }

    /// The fields of one file the package page shows.
    static func fileDetails(_ entry: PackageIndexEntry, feed: String) -> [String: Any] {
        let record = entry.record
        let constrains = record.fields["constrains"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let timestamp = record.fields["timestamp"]?.intValue.map {
            WebUIFormat.date(Date(timeIntervalSince1970: Double($0 > 100_000_000_000 ? $0 / 1000 : $0)))
        }
        return [
            "subdir": entry.subdir, "filename": entry.filename, "build": record.build,
            "buildNumber": record.buildNumber, "version": record.version,
            "size": WebUIFormat.bytes(record.size), "sha256": record.sha256.isEmpty ? "—" : record.sha256,
            "md5": record.md5.isEmpty ? "—" : record.md5,
            "license": record.fields["license"]?.stringValue ?? "—",
            "summary": record.fields["summary"]?.stringValue as Any?,
            "depends": record.depends.map { ["spec": $0] }, "hasDepends": !record.depends.isEmpty,
            "constrains": constrains.map { ["spec": $0] }, "hasConstrains": !constrains.isEmpty,
            "timestamp": timestamp as Any?,
            "download":
                "/conda/\(WebUIFormat.urlComponent(feed))/\(entry.subdir)/\(WebUIFormat.urlComponent(entry.filename))",
        ]
    }

    /// `POST /ui/feeds/{feed}/packages/{name}/promote` (`version`, `toFeed`, `comments`, `csrf`): promotes every file
    /// of that version through the promotion API's handler (the same checks, verification, history and republish).
    /// 403 without Promote Packages on the feed, even when the form is posted without the button.
    @Sendable func promotePackage(request: Request, context: SluiceRequestContext) async throws -> Response {
        let viewer = WebUIRequest.viewer
        let feed = try await existingFeed(try context.parameters.require("feed"))
        let name = try context.parameters.require("name")
        try await access.require(.promotePackages, feed: feed.name, viewer: viewer)
        try await access.require(.viewDownload, feed: feed.name, viewer: viewer)
        let form = WebUIRequest.form
        let back = "/ui/feeds/\(WebUIFormat.urlComponent(feed.name))/packages/\(WebUIFormat.urlComponent(name))"
        guard let version = form["version"], let target = form["toFeed"] else {
            return await redirect(back, flash: .error("Choose the version and the feed to promote to."))
        }
        var body: [String: JSONValue] = [
            "fromFeed": .string(feed.name), "toFeed": .string(target), "name": .string(name),
            "version": .string(version), "comments": .string(form["comments"] ?? ""),
        ]
        if let subdir = form["subdir"] { body["subdir"] = .string(subdir) }
        do {
            let answer = try await APIBridge.call(
                PromotionController(services: services).promote, path: "/api/promotions/promote",
                body: .object(body), context: apiContext(context))
            let message = answer.json.objectValue?["message"]?.stringValue ?? "Promoted \(name) \(version)."
            return await redirect(back, flash: .ok(message))
        } catch let error as SluiceError where error.code != .forbidden && error.code != .unauthenticated {
            return await redirect(back, flash: .error(error.message))
        }
    }
}
