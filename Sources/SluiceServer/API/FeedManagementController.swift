import Foundation
import Hummingbird
import Logging
import SluiceCore

/// The feed management API, shaped like ProGet's so that scripts port: create, list, get, update, delete.
///
/// Every route requires `Admin` (the caller wraps it in ``AdminAuthenticationMiddleware``).
struct FeedManagementController: Sendable {
    let services: SluiceServices

    func addRoutes(to group: RouterGroup<SluiceRequestContext>) {
        group.post("create", use: create)
        group.get("list", use: list)
        group.get("get/{name}", use: get)
        group.post("update/{name}", use: update)
        group.delete("delete/{name}", use: delete)
        group.post("delete/{name}", use: delete)
    }

    /// `POST /api/management/feeds/create` with `{"name","feedType":"conda","description"?,"active"?}` → 201 and the
    /// feed. Throws `.invalidInput` (400) for a bad name or a feedType other than conda, `.conflict` (409) if taken.
    @Sendable func create(request: Request, context: SluiceRequestContext) async throws -> Response {
        let fields = try await RequestFields.read(from: request)
        guard let name = try fields.string("name") else {
            throw SluiceError.invalidInput("'name' is required.")
        }
        try ChannelNames.validateFeedName(name)
        let feedType = try fields.string("feedType") ?? "conda"
        guard feedType.lowercased() == "conda" else {
            throw SluiceError.invalidInput("feedType '\(feedType)' is not supported; Sluice serves 'conda' feeds only.")
        }
        let feed = Feed(
            name: name, feedType: "conda", kind: .hosted, description: try fields.string("description") ?? "",
            active: try fields.bool("active") ?? true)
        try await services.metadata.createFeed(feed)
        context.logger.info("Created feed", metadata: ["feed": "\(name)", "user": "\(context.userName ?? "-")"])
        return JSONResponse.make(feed.apiJSON, status: .created)
    }

    /// `GET /api/management/feeds/list` → the array of feeds, ordered by name.
    @Sendable func list(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feeds = try await services.metadata.feeds()
        return JSONResponse.make(.array(feeds.map(\.apiJSON)))
    }

    /// `GET /api/management/feeds/get/{name}` → the feed. Throws `.notFound` (404).
    @Sendable func get(request: Request, context: SluiceRequestContext) async throws -> Response {
        let feed = try await existingFeed(context)
        return JSONResponse.make(feed.apiJSON)
    }

    /// `POST /api/management/feeds/update/{name}` with any of `description`, `active` → the updated feed.
    /// Throws `.notFound` (404), `.invalidInput` (400) when asked to change the name, type or kind.
    @Sendable func update(request: Request, context: SluiceRequestContext) async throws -> Response {
        var feed = try await existingFeed(context)
        let fields = try await RequestFields.read(from: request, allowEmpty: true)
        if let name = try fields.string("name"), name != feed.name {
            throw SluiceError.invalidInput("A feed cannot be renamed.")
        }
        if let feedType = try fields.string("feedType"), feedType.lowercased() != feed.feedType {
            throw SluiceError.invalidInput("A feed's feedType cannot be changed.")
        }
        if let kind = try fields.string("kind"), kind != feed.kind.rawValue {
            throw SluiceError.invalidInput("A feed's kind cannot be changed.")
        }
        if let description = try fields.string("description") { feed.description = description }
        if let active = try fields.bool("active") { feed.active = active }
        try await services.metadata.updateFeed(feed)
        return JSONResponse.make(feed.apiJSON)
    }

    /// `DELETE` or `POST /api/management/feeds/delete/{name}`: removes the feed, its package rows, its published
    /// repodata and the blobs no other feed uses → 200 `{"deleted": name}`. Throws `.notFound` (404).
    @Sendable func delete(request: Request, context: SluiceRequestContext) async throws -> Response {
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

    private func existingFeed(_ context: SluiceRequestContext) async throws -> Feed {
        let name = try context.parameters.require("name")
        guard let feed = try await services.metadata.feed(named: name) else {
            throw SluiceError.notFound("There is no feed named '\(name)'.")
        }
        return feed
    }
}
