import Foundation
import Hummingbird
import Logging
import SluiceCore

/// The feed management API, shaped like ProGet's so that scripts port: create, list, get, update, delete.
///
/// Authorization (``AccessControl``): create, create-pair and delete need Administer (server-wide); update needs
/// Manage Feed on the feed; list and get need View & Download on the feed (list shows only the feeds the caller may
/// view).
struct FeedManagementController: Sendable {
    let services: SluiceServices

    func addRoutes(to group: RouterGroup<SluiceRequestContext>) {
        group.post("create", use: create)
        group.post("create-pair", use: createPair)
        group.get("list", use: list)
        group.get("get/{name}", use: get)
        group.post("update/{name}", use: update)
        group.delete("delete/{name}", use: delete)
        group.post("delete/{name}", use: delete)
    }

    /// `POST /api/management/feeds/create` with `{"name","feedType":"conda","description"?,"active"?,
    /// "connectors"?:[names]}` → 201 and the feed; with connectors it is a proxy feed (`"kind": "proxy"`).
    /// Throws `.invalidInput` (400) for a bad name, a feedType other than conda, a connector named twice or a `kind`
    /// that contradicts the connectors; `.notFound` (404) naming a connector that does not exist; `.conflict` (409)
    /// if the name is taken.
    @Sendable func create(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
        let fields = try await RequestFields.read(from: request)
        guard let name = try fields.string("name") else {
            throw SluiceError.invalidInput("'name' is required.")
        }
        try ChannelNames.validateFeedName(name)
        let feedType = try fields.string("feedType") ?? "conda"
        guard feedType.lowercased() == "conda" else {
            throw SluiceError.invalidInput("feedType '\(feedType)' is not supported; Sluice serves 'conda' feeds only.")
        }
        let connectors = try Self.connectorNames(in: fields) ?? []
        let kind = try Self.kind(in: fields, connectors: connectors)
        let feed = Feed(
            name: name, feedType: "conda", kind: kind, description: try fields.string("description") ?? "",
            active: try fields.bool("active") ?? true, connectors: connectors)
        try await services.metadata.createFeed(feed)
        context.logger.info(
            "Created feed",
            metadata: [
                "feed": "\(name)", "kind": "\(kind.rawValue)", "connectors": "\(connectors)",
                "user": "\(context.userName ?? "-")",
            ])
        return JSONResponse.make(feed.apiJSON, status: .created)
    }

    /// `GET /api/management/feeds/list` → the array of feeds the caller may view, ordered by name. Throws
    /// `.unauthenticated` (401) for an anonymous caller who may view none of the feeds.
    @Sendable func list(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feeds = try await services.metadata.feeds()
        let names = feeds.map(\.name)
        let viewable = try await services.access.viewableFeeds(names, identity: context.identity)
        try services.access.requireSomeViewableFeed(viewable, among: names, identity: context.identity)
        return JSONResponse.make(.array(feeds.filter { viewable.contains($0.name) }.map(\.apiJSON)))
    }

    /// `GET /api/management/feeds/get/{name}` → the feed. Throws `.notFound` (404); 401/403 without View & Download
    /// on it.
    @Sendable func get(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(
            .viewDownload, feed: try context.parameters.require("name"), identity: context.identity)
        let feed = try await existingFeed(context)
        return JSONResponse.make(feed.apiJSON)
    }

    /// `POST /api/management/feeds/update/{name}` with any of `description`, `active`, `connectors` → the updated
    /// feed. `connectors` replaces the feed's list (in priority order); `[]` or `null` removes them all, which makes the
    /// feed hosted again (its local packages stay).
    /// Throws `.notFound` (404) for the feed or a connector that does not exist, `.invalidInput` (400) when asked to
    /// change the name or type, for a connector named twice, or a `kind` that contradicts the connectors.
    @Sendable func update(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(
            .manageFeed, feed: try context.parameters.require("name"), identity: context.identity)
        var feed = try await existingFeed(context)
        let fields = try await RequestFields.read(from: request, allowEmpty: true)
        if let name = try fields.string("name"), name != feed.name {
            throw SluiceError.invalidInput("A feed cannot be renamed.")
        }
        if let feedType = try fields.string("feedType"), feedType.lowercased() != feed.feedType {
            throw SluiceError.invalidInput("A feed's feedType cannot be changed.")
        }
        let previousConnectors = feed.connectors
        if fields.contains("connectors") {
            feed.connectors = try Self.connectorNames(in: fields) ?? []
        }
        feed.kind = try Self.kind(in: fields, connectors: feed.connectors)
        if let description = try fields.string("description") { feed.description = description }
        if let active = try fields.bool("active") { feed.active = active }
        try await services.metadata.updateFeed(feed)
        if feed.connectors != previousConnectors {
            // What the feed publishes now comes from other sources: rebuild on the next request.
            await services.publisher.forget(feed: feed.name)
            context.logger.info(
                "Feed connectors changed",
                metadata: [
                    "feed": "\(feed.name)", "connectors": "\(feed.connectors)", "user": "\(context.userName ?? "-")",
                ])
        }
        return JSONResponse.make(feed.apiJSON)
    }

    /// `DELETE` or `POST /api/management/feeds/delete/{name}`: removes the feed, its package rows, its published
    /// repodata and the blobs no other feed uses → 200 `{"deleted": name}`. Throws `.notFound` (404).
    @Sendable func delete(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
        let name = try context.parameters.require("name")
        var packages: [StoredPackage] = []
        for subdir in try await services.metadata.subdirs(feed: name) {
            packages += try await services.metadata.packages(feed: name, subdir: subdir)
        }
        guard try await services.metadata.deleteFeed(named: name) else {
            throw SluiceError.notFound("There is no feed named '\(name)'.")
        }
        await services.publisher.forget(feed: name)
        await services.collectGarbage(sha256s: Set(packages.map(\.sha256)), logger: context.logger)
        context.logger.info("Deleted feed", metadata: ["feed": "\(name)", "user": "\(context.userName ?? "-")"])
        return JSONResponse.make(.object(["deleted": .string(name), "packagesRemoved": .int(Int64(packages.count))]))
    }

    /// The `connectors` field: connector names, trimmed, in the order given; nil when absent or null.
    /// - Throws: `SluiceError.invalidInput` when it is not a list of strings or holds an empty name.
    static func connectorNames(in fields: RequestFields) throws(SluiceError) -> [String]? {
        guard let names = try fields.stringList("connectors") else { return nil }
        let trimmed = names.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard !trimmed.contains(where: \.isEmpty) else {
            throw .invalidInput("'connectors' must list connector names; one of them is empty.")
        }
        return trimmed
    }

    /// The feed's kind, which follows from its connectors; a `kind` field, if given, must agree.
    /// - Throws: `SluiceError.invalidInput` for an unknown kind or one that contradicts the connectors.
    static func kind(in fields: RequestFields, connectors: [String]) throws(SluiceError) -> Feed.Kind {
        let kind = Feed.kind(connectors: connectors)
        guard let given = try fields.string("kind") else { return kind }
        guard let requested = Feed.Kind(rawValue: given.lowercased()) else {
            throw .invalidInput("'kind' must be 'hosted' or 'proxy' (got '\(given)').")
        }
        guard requested == kind else {
            throw .invalidInput(
                requested == .proxy
                    ? "A proxy feed needs at least one connector: give \"connectors\": [\"<connector>\", ...]."
                    : "A feed with connectors is a proxy feed; remove its connectors to make it hosted.")
        }
        return kind
    }

    private func existingFeed(_ context: SluiceRequestContext) async throws -> Feed {
        let name = try context.parameters.require("name")
        guard let feed = try await services.metadata.feed(named: name) else {
            throw SluiceError.notFound("There is no feed named '\(name)'.")
        }
        return feed
    }
}
