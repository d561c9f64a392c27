import Foundation
import Hummingbird
import Logging
import SluiceCore

/// The connector management API, shaped like ProGet's so that scripts port: create, list, get, update, delete.
///
/// A connector is a named upstream conda channel that proxy feeds draw from (``Connector``). Responses never hold the
/// password: `hasPassword` says whether one is set. Every route needs Administer (server-wide), checked with
/// ``AccessControl``.
struct ConnectorManagementController: Sendable {
    let services: SluiceServices

    /// Adds the routes to `group` (mounted at `/api/management/connectors`).
    func addRoutes(to group: RouterGroup<SluiceRequestContext>) {
        group.post("create", use: create)
        group.get("list", use: list)
        group.get("get/{name}", use: get)
        group.post("update/{name}", use: update)
        group.delete("delete/{name}", use: delete)
        group.post("delete/{name}", use: delete)
    }

    /// `POST /api/management/connectors/create` with `{"name","url","feedType"?:"conda","description"?,"timeout"?,
    /// "metadataCacheEnabled"?,"metadataCacheMinutes"?,"username"?,"password"?,"filters"?}` (JSON or form) → 201 and
    /// the connector. Throws `.invalidInput` (400) for a bad field (see ``ConnectorRequest/apply(_:to:)``),
    /// `.conflict` (409) if the name is taken.
    @Sendable func create(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
        let fields = try await RequestFields.read(from: request)
        let connector = try ConnectorRequest.newConnector(from: fields)
        try await services.metadata.createConnector(connector)
        context.logger.info(
            "Created connector",
            metadata: [
                "connector": "\(connector.name)", "url": "\(connector.url)", "user": "\(context.userName ?? "-")",
            ])
        return JSONResponse.make(connector.apiJSON(feeds: []), status: .created)
    }

    /// `GET /api/management/connectors/list` → the array of connectors ordered by name, each with the `feeds` that
    /// use it.
    @Sendable func list(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
        let connectors = try await services.metadata.connectors()
        let users = try await feedsByConnector()
        return JSONResponse.make(.array(connectors.map { $0.apiJSON(feeds: users[$0.name] ?? []) }))
    }

    /// `GET /api/management/connectors/get/{name}` → the connector with the `feeds` that use it and its `status`
    /// from the proxy engine (``ConnectorStatus``: health, circuit, last refresh and error, hit/miss counts,
    /// subdirs). Throws `.notFound` (404).
    @Sendable func get(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
        let connector = try await existingConnector(context)
        let users = try await feedsByConnector()
        var object = connector.apiJSON(feeds: users[connector.name] ?? []).objectValue ?? [:]
        object["status"] = await services.upstreamMirror.status(connector: connector.name).apiJSON
        return JSONResponse.make(.object(object))
    }

    /// `POST /api/management/connectors/update/{name}` with any of the create fields → the updated connector; the
    /// proxy engine is told (``UpstreamMirror/connectorChanged(_:)``).
    ///
    /// Partial: an absent field keeps its value; an absent `password` keeps the stored one, `"password": null` or
    /// `""` removes it. Throws `.notFound` (404), `.invalidInput` (400) for a bad field or a rename.
    @Sendable func update(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
        var connector = try await existingConnector(context)
        let fields = try await RequestFields.read(from: request, allowEmpty: true)
        try ConnectorRequest.apply(fields, to: &connector)
        try await services.metadata.updateConnector(connector)
        // The mirror drops what it holds for the old settings and republishes the feeds using the connector.
        await services.upstreamMirror.connectorChanged(connector.name)
        context.logger.info(
            "Updated connector",
            metadata: [
                "connector": "\(connector.name)", "url": "\(connector.url)", "user": "\(context.userName ?? "-")",
            ])
        let users = try await feedsByConnector()
        return JSONResponse.make(connector.apiJSON(feeds: users[connector.name] ?? []))
    }

    /// `DELETE` or `POST /api/management/connectors/delete/{name}`: removes the connector, its saved upstream
    /// snapshots and cached-file rows, and the blobs nothing else references → 200
    /// `{"deleted": name, "cachedFilesRemoved": n}`. Throws `.notFound` (404), `.conflict` (409) naming the feeds
    /// that still use it.
    @Sendable func delete(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
        let name = try context.parameters.require("name")
        let cachedFiles = try await services.metadata.cachedFiles(connector: name)
        let snapshots = try await services.metadata.upstreamSnapshots(connector: name)
        guard try await services.metadata.deleteConnector(named: name) else {
            throw SluiceError.notFound("There is no connector named '\(name)'.")
        }
        await services.upstreamMirror.connectorChanged(name)
        let blobs = Set(cachedFiles.map(\.sha256)).union(snapshots.compactMap(\.sha256))
        await services.collectGarbage(sha256s: blobs, logger: context.logger)
        context.logger.info(
            "Deleted connector", metadata: ["connector": "\(name)", "user": "\(context.userName ?? "-")"])
        return JSONResponse.make(
            .object(["deleted": .string(name), "cachedFilesRemoved": .int(Int64(cachedFiles.count))]))
    }

    private func existingConnector(_ context: SluiceRequestContext) async throws -> Connector {
        let name = try context.parameters.require("name")
        guard let connector = try await services.metadata.connector(named: name) else {
            throw SluiceError.notFound("There is no connector named '\(name)'.")
        }
        return connector
    }

    /// The names of the feeds that use each connector, in feed-name order.
    private func feedsByConnector() async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for feed in try await services.metadata.feeds() {
            for connector in feed.connectors {
                result[connector, default: []].append(feed.name)
            }
        }
        return result
    }
}
