import Foundation
import Hummingbird
import SluiceCore

extension WebUIController {
    /// The platforms a proxy feed's subdir filter always offers.
    static let commonSubdirs = ["noarch", "linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"]

    /// The number of packages on one page of a feed's package list.
    static let packagesPerPage = 50

    func addFeedRoutes(to ui: RouterGroup<SluiceRequestContext>) {
        ui.get("feeds", use: feedsPage)
        ui.get("feeds/new", use: newFeedPage)
        ui.post("feeds/new", use: createFeed)
        ui.get("feeds/{feed}", use: feedPage)
    }

    // MARK: Feed list

    /// `GET /ui/feeds`: the feeds the viewer may view, with type, package count, size and connectors.
    @Sendable func feedsPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        let viewer = WebUIRequest.viewer
        var rows: [[String: Any]] = []
        for feed in try await services.metadata.feeds() {
            guard await access.allows(.viewDownload, feed: feed.name, identity: viewer.identity) else { continue }
            let summary = try await feedSummary(feed)
            rows.append([
                "name": feed.name, "href": "/ui/feeds/\(WebUIFormat.urlComponent(feed.name))",
                "kind": feed.kind.rawValue, "description": feed.description,
                "packages": WebUIFormat.count(summary.files), "size": WebUIFormat.bytes(summary.bytes),
                "connectors": feed.connectors.map {
                    ["name": $0, "href": "/ui/connectors/\(WebUIFormat.urlComponent($0))"]
                },
                "inactive": !feed.active,
            ])
        }
        return await page(
            "feeds", title: "Feeds",
            data: ["feeds": rows, "hasFeeds": !rows.isEmpty, "canCreate": viewer.isAdministrator], active: "feeds")
    }

    /// What the feed list shows of one feed: how many package files it serves (for a proxy feed: its own files plus
    /// the records its connectors' saved upstream states list) and the bytes it stores (own files plus cached ones).
    /// Never calls an upstream.
    func feedSummary(_ feed: Feed) async throws -> (files: Int, bytes: Int64) {
        var files = 0
        var bytes: Int64 = 0
        if feed.connectors.isEmpty {
            for subdir in try await services.metadata.subdirs(feed: feed.name) {
                let records = try await services.publisher.snapshot(feed: feed.name, subdir: subdir)?.records ?? [:]
                files += records.count
                bytes += records.values.reduce(0) { $0 + $1.size }
            }
            return (files, bytes)
        }
        for subdir in try await services.metadata.subdirs(feed: feed.name) {
            let rows = try await services.metadata.packages(feed: feed.name, subdir: subdir)
            files += rows.count
            bytes += rows.reduce(0) { $0 + $1.size }
        }
        for connector in feed.connectors {
            for snapshot in try await services.metadata.upstreamSnapshots(connector: connector)
            where snapshot.status == .present {
                files += snapshot.recordCount
            }
            bytes += try await services.metadata.cachedFiles(connector: connector).reduce(0) { $0 + $1.size }
        }
        return (files, bytes)
    }

    // MARK: Create New Feed

    /// `GET /ui/feeds/new`: the three ways to make conda feeds (hosted; proxy with a connector; the pair of an
    /// unapproved proxy feed and an approved hosted feed). Needs Administer.
    @Sendable func newFeedPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await access.require(.administer, feed: nil, viewer: WebUIRequest.viewer)
        return try await newFeedForm(values: WebForm(), error: nil)
    }

    func newFeedForm(values: WebForm, error: String?) async throws -> Response {
        let connectors = try await services.metadata.connectors().map { connector -> [String: Any] in
            ["name": connector.name, "url": connector.url, "selected": values["connector"] == connector.name]
        }
        let mode = values["mode"] ?? "pair"
        var compliance = await complianceSwitches()
        compliance["blockVulnerable"] = values.isChecked("blockVulnerable")
        compliance["checkLicenses"] = values.isChecked("checkLicenses")
        return await page(
            "feed-new", title: "Create New Feed",
            data: [
                "modeHosted": mode == "hosted", "modeProxy": mode == "proxy", "modePair": mode == "pair",
                "name": values["name"] ?? "", "description": values["description"] ?? "",
                "upstream": values["upstream"] ?? "", "connectorName": values["connectorName"] ?? "",
                "unapprovedFeed": values["unapprovedFeed"] ?? "unapproved-conda",
                "approvedFeed": values["approvedFeed"] ?? "approved-conda",
                "connectors": connectors, "hasConnectors": !connectors.isEmpty,
                "compliance": compliance, "complianceAvailable": compliance["available"] as? Bool ?? false,
            ],
            active: "feeds", flash: error.map(Flash.error), status: error == nil ? .ok : .badRequest)
    }

    /// `POST /ui/feeds/new` (`mode` = `hosted`, `proxy` or `pair`): creates the feed(s) through the management API's
    /// handlers (same validation, same checks), then opens the new feed. A refused request shows the form again with
    /// the API's message.
    @Sendable func createFeed(request: Request, context: SluiceRequestContext) async throws -> Response {
        let viewer = WebUIRequest.viewer
        try await access.require(.administer, feed: nil, viewer: viewer)
        let form = WebUIRequest.form
        let context = apiContext(context)
        let feeds = FeedManagementController(services: services)
        let connectors = ConnectorManagementController(services: services)
        do {
            let opened: String
            switch form["mode"] ?? "" {
            case "hosted":
                let name = form["name"] ?? ""
                _ = try await APIBridge.call(
                    feeds.create, path: "/api/management/feeds/create",
                    body: .object([
                        "name": .string(name), "feedType": .string("conda"),
                        "description": .string(form["description"] ?? ""),
                    ]), context: context)
                opened = name
            case "proxy":
                let name = form["name"] ?? ""
                var connector = form["connector"] ?? ""
                var createdConnector: String?
                if let upstream = form["upstream"] {
                    connector = try form["connectorName"] ?? ConnectorRequest.derivedName(fromUpstream: upstream)
                    _ = try await APIBridge.call(
                        connectors.create, path: "/api/management/connectors/create",
                        body: .object(["name": .string(connector), "url": .string(upstream)]), context: context)
                    createdConnector = connector
                }
                guard !connector.isEmpty else {
                    throw SluiceError.invalidInput("Choose a connector or give the upstream URL of a new one.")
                }
                do {
                    _ = try await APIBridge.call(
                        feeds.create, path: "/api/management/feeds/create",
                        body: .object([
                            "name": .string(name), "feedType": .string("conda"),
                            "description": .string(form["description"] ?? ""),
                            "connectors": .array([.string(connector)]),
                        ]), context: context)
                } catch {
                    if let createdConnector {
                        _ = try? await APIBridge.call(
                            connectors.delete, path: "/api/management/connectors/delete/\(createdConnector)",
                            parameters: ["name": createdConnector], context: context)
                    }
                    throw error
                }
                opened = name
            case "pair":
                var body: [String: JSONValue] = [
                    "upstream": .string(form["upstream"] ?? ""),
                    "unapprovedFeed": .string(form["unapprovedFeed"] ?? ""),
                    "approvedFeed": .string(form["approvedFeed"] ?? ""),
                ]
                if let name = form["connectorName"] { body["connector"] = .string(name) }
                let answer = try await APIBridge.call(
                    feeds.createPair, path: "/api/management/feeds/create-pair", body: .object(body), context: context)
                opened =
                    answer.json.objectValue?["unapprovedFeed"]?.objectValue?["name"]?.stringValue
                    ?? form["unapprovedFeed"] ?? "unapproved-conda"
                if let approved = answer.json.objectValue?["approvedFeed"]?.objectValue?["name"]?.stringValue {
                    try await applyComplianceSwitches(form, feeds: [opened, approved], context: context)
                    return await redirect(
                        "/ui/feeds/\(WebUIFormat.urlComponent(opened))",
                        flash: .ok("Created the proxy feed '\(opened)' and the hosted feed '\(approved)'."))
                }
            default:
                throw SluiceError.invalidInput("Choose what to create: a hosted feed, a proxy feed, or two feeds.")
            }
            try await applyComplianceSwitches(form, feeds: [opened], context: context)
            return await redirect(
                "/ui/feeds/\(WebUIFormat.urlComponent(opened))", flash: .ok("Created the feed '\(opened)'."))
        } catch let error as SluiceError where error.code != .forbidden && error.code != .unauthenticated {
            return try await newFeedForm(values: form, error: error.message)
        }
    }

    // MARK: One feed

    /// `GET /ui/feeds/{feed}?q=&subdir=&page=`: the feed's conda URL (with a copy button and the `conda config`
    /// line), and its packages: searched by name, filtered by subdir, 50 per page, each with its newest version and,
    /// on a proxy feed, whether its files are local, cached or only upstream.
    ///
    /// The list comes from the feed's published snapshots (what clients see); each snapshot is grouped and sorted
    /// once (``PackageIndexCache``), so paging a 450k-record proxy feed costs a filter and a slice per request.
    @Sendable func feedPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        let viewer = WebUIRequest.viewer
        let feed = try await existingFeed(try context.parameters.require("feed"))
        try await access.require(.viewDownload, feed: feed.name, viewer: viewer)
        let query = request.uri.queryParameters
        let search = (query.get("q") ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        let subdirFilter = query.get("subdir").flatMap { $0.isEmpty ? nil : $0 }
        let requestedPage = max(1, query.get("page").flatMap { Int($0) } ?? 1)

        let subdirs = try await feedSubdirs(feed)
        // A proxy feed also offers the common platforms nobody has asked for yet: choosing one fetches its upstream
        // repodata, as a conda client would.
        let choices =
            feed.connectors.isEmpty
            ? subdirs : subdirs + Self.commonSubdirs.filter { !subdirs.contains($0) }
        let shown = subdirFilter.map { choices.contains($0) ? [$0] : [] } ?? subdirs
        var subdirIndexes: [SubdirPackageIndex] = []
        var unavailable: [String] = []
        for subdir in shown {
            do {
                if let index = try await subdirIndex(feed: feed.name, subdir: subdir) { subdirIndexes.append(index) }
            } catch let error as SluiceError
                where error.code == .upstreamUnavailable || error.code == .upstreamTimeout
            {
                // The other subdirs are still listed; the page says which one the upstream could not give.
                unavailable.append("\(subdir): \(error.message)")
            }
        }
        let names = SubdirPackageIndex.matching(await indexes.names(of: subdirIndexes), search: search)
        let pageCount = max(1, (names.count + Self.packagesPerPage - 1) / Self.packagesPerPage)
        let pageNumber = min(requestedPage, pageCount)
        let pageNames = names.dropFirst((pageNumber - 1) * Self.packagesPerPage).prefix(Self.packagesPerPage)

        let isProxy = !feed.connectors.isEmpty
        let cached = isProxy ? try await cachedFileKeys(feed) : []
        var rows: [[String: Any]] = []
        for name in pageNames {
            var files: [PackageIndexEntry] = []
            for index in subdirIndexes { files += index.files[name] ?? [] }
            let newest = SubdirPackageIndex.newestFirst(files).first
            var row: [String: Any] = [
                "name": name,
                "href": "/ui/feeds/\(WebUIFormat.urlComponent(feed.name))/packages/\(WebUIFormat.urlComponent(name))",
                "version": newest?.record.version ?? "", "files": files.count,
                "subdirs": Array(Set(files.map(\.subdir))).sorted().joined(separator: ", "),
                "summary": newest?.record.fields["summary"]?.stringValue ?? "",
                "license": newest?.record.fields["license"]?.stringValue ?? "",
            ]
            if isProxy {
                let marker = Self.marker(files, cached: cached)
                row["marker"] = marker
                row["markerTitle"] = Self.markerTitle(marker)
            }
            rows.append(row)
        }

        func pageLink(_ number: Int) -> String {
            var parts: [String] = []
            if !search.isEmpty { parts.append("q=\(WebUIFormat.urlComponent(search))") }
            if let subdirFilter { parts.append("subdir=\(WebUIFormat.urlComponent(subdirFilter))") }
            parts.append("page=\(number)")
            return "/ui/feeds/\(WebUIFormat.urlComponent(feed.name))?" + parts.joined(separator: "&")
        }
        let base = Self.baseURL(request)
        let channelURL = "\(base)/conda/\(feed.name)/"
        let anonymousMayView = await access.allows(.viewDownload, feed: feed.name, identity: .anonymous)
        var keyURL = ""
        if !anonymousMayView, let separator = base.range(of: "://") {
            keyURL = base[..<separator.upperBound] + "api:KEY@" + base[separator.upperBound...] + "/conda/\(feed.name)/"
        }
        return await page(
            "feed", title: feed.name,
            data: [
                "feed": [
                    "name": feed.name, "kind": feed.kind.rawValue, "description": feed.description,
                    "connectors": feed.connectors.map {
                        ["name": $0, "href": "/ui/connectors/\(WebUIFormat.urlComponent($0))"]
                    },
                    "isProxy": isProxy, "inactive": !feed.active,
                ],
                "channelURL": channelURL, "condaCommand": "conda config --add channels \(channelURL)",
                "private": !anonymousMayView, "keyURL": keyURL,
                "keyCommand": keyURL.isEmpty ? "" : "conda config --add channels \(keyURL)",
                "q": search.isEmpty ? nil : search as Any?,
                "subdirs": choices.map { ["name": $0, "selected": $0 == subdirFilter] },
                "packages": rows, "hasPackages": !rows.isEmpty, "total": WebUIFormat.count(names.count),
                "page": pageNumber, "pageCount": pageCount,
                "previous": pageNumber > 1 ? pageLink(pageNumber - 1) : nil as String?,
                "next": pageNumber < pageCount ? pageLink(pageNumber + 1) : nil as String?,
                "canManage": viewer.isAdministrator,
            ],
            active: "feeds",
            flash: unavailable.isEmpty
                ? nil : .error("The upstream could not be reached for " + unavailable.joined(separator: "; ")))
    }

    func existingFeed(_ name: String) async throws -> Feed {
        guard let feed = try await services.metadata.feed(named: name) else {
            throw SluiceError.notFound("There is no feed named '\(name)'.")
        }
        return feed
    }

    /// The subdirs a feed's page lists: a hosted feed's subdirs; for a proxy feed `noarch`, its local subdirs and
    /// those its connectors have a saved upstream state for (as promotion searches them).
    func feedSubdirs(_ feed: Feed) async throws -> [String] {
        try await PromotionService(services: services).sourceSubdirs(of: feed)
    }

    /// The index of the live snapshot of one subdir; nil when the feed does not serve it.
    func subdirIndex(feed: String, subdir: String) async throws -> SubdirPackageIndex? {
        guard ChannelNames.isSubdir(subdir),
            let served = try await services.publisher.servedSubdir(feed: feed, subdir: subdir)
        else { return nil }
        return await indexes.index(feed: feed, subdir: subdir, served: served)
    }

    /// `connector/subdir/filename` of every file a proxy feed's connectors have cached.
    func cachedFileKeys(_ feed: Feed) async throws -> Set<String> {
        var keys = Set<String>()
        for connector in feed.connectors {
            for file in try await services.metadata.cachedFiles(connector: connector) {
                keys.insert("\(file.connector)/\(file.subdir)/\(file.filename)")
            }
        }
        return keys
    }

    /// `local` when the feed holds one of the files itself, `cached` when an upstream file was cached, else `remote`.
    static func marker(_ files: [PackageIndexEntry], cached: Set<String>) -> String {
        var anyCached = false
        for file in files {
            switch file.source {
            case .local: return "local"
            case .upstream(let connector):
                if cached.contains("\(connector)/\(file.subdir)/\(file.filename)") { anyCached = true }
            }
        }
        return anyCached ? "cached" : "remote"
    }

    static func markerTitle(_ marker: String) -> String {
        switch marker {
        case "local": "Stored in this feed"
        case "cached": "Cached from the upstream"
        default: "Only upstream; fetched on first download"
        }
    }
}
