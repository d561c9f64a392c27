import Foundation
import Hummingbird
import SluiceCore

extension WebUIController {
    func addConnectorRoutes(to ui: RouterGroup<SluiceRequestContext>) {
        ui.get("connectors", use: connectorsPage)
        ui.get("connectors/{name}", use: connectorPage)
    }

    /// `GET /ui/connectors`: every connector with its upstream, health, last refresh, filters and cache statistics
    /// (from the same ``UpstreamMirror`` status as `GET /api/management/connectors/get/{name}`). Needs Administer.
    @Sendable func connectorsPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await access.require(.administer, feed: nil, viewer: WebUIRequest.viewer)
        let users = try await feedsByConnector()
        var rows: [[String: Any]] = []
        for connector in try await services.metadata.connectors() {
            rows.append(try await connectorData(connector, feeds: users[connector.name] ?? []))
        }
        return await page(
            "connectors", title: "Connectors", data: ["connectors": rows, "hasConnectors": !rows.isEmpty],
            active: "connectors")
    }

    /// `GET /ui/connectors/{name}`: one connector in detail, with its subdirs' saved upstream states. Needs
    /// Administer.
    @Sendable func connectorPage(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await access.require(.administer, feed: nil, viewer: WebUIRequest.viewer)
        let name = try context.parameters.require("name")
        guard let connector = try await services.metadata.connector(named: name) else {
            throw SluiceError.notFound("There is no connector named '\(name)'.")
        }
        var data = try await connectorData(connector, feeds: try await feedsByConnector()[name] ?? [])
        data["snapshots"] = try await services.metadata.upstreamSnapshots(connector: name)
            .sorted { $0.subdir < $1.subdir }
            .map { snapshot -> [String: Any] in
                [
                    "subdir": snapshot.subdir, "status": snapshot.status.rawValue,
                    "records": WebUIFormat.count(snapshot.recordCount),
                    "fetchedAt": WebUIFormat.date(snapshot.fetchedAt),
                    "etag": snapshot.etag ?? "—",
                ]
            }
        return await page("connector", title: connector.name, data: data, active: "connectors")
    }

    private func connectorData(_ connector: Connector, feeds: [String]) async throws -> [String: Any] {
        let status = await services.upstreamMirror.status(connector: connector.name)
        let cached = try await services.metadata.cachedFiles(connector: connector.name)
        return [
            "name": connector.name, "href": "/ui/connectors/\(WebUIFormat.urlComponent(connector.name))",
            "url": connector.url, "description": connector.description,
            "health": status.health, "circuit": status.circuit,
            "lastRefresh": WebUIFormat.date(status.lastRefresh), "lastError": status.lastError as Any?,
            "filters": connector.filters.joined(separator: " "), "hasFilters": !connector.filters.isEmpty,
            "metadataHits": status.metadataHits, "metadataMisses": status.metadataMisses,
            "packageHits": status.packageHits, "packageMisses": status.packageMisses,
            "cachedFiles": WebUIFormat.count(cached.count),
            "cachedSize": WebUIFormat.bytes(cached.reduce(0) { $0 + $1.size }),
            "subdirs": status.subdirs.joined(separator: ", "),
            "cacheMinutes": connector.metadataCacheEnabled ? "\(connector.metadataCacheMinutes) min" : "off",
            "timeout": connector.timeout, "authenticated": connector.username != nil,
            "feeds": feeds.map { ["name": $0, "href": "/ui/feeds/\(WebUIFormat.urlComponent($0))"] },
        ]
    }

    /// The names of the feeds that use each connector.
    func feedsByConnector() async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for feed in try await services.metadata.feeds() {
            for connector in feed.connectors {
                result[connector, default: []].append(feed.name)
            }
        }
        return result
    }
}
