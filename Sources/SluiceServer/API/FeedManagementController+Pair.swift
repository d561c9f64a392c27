import Foundation
import Hummingbird
import Logging
import SluiceCore

extension FeedManagementController {
    /// The default name of the proxy feed `create-pair` makes.
    static let defaultUnapprovedFeed = "unapproved-conda"
    /// The default name of the hosted feed `create-pair` makes.
    static let defaultApprovedFeed = "approved-conda"
    /// The connector fields `create-pair` passes on to the connector it creates.
    static let pairConnectorFields = [
        "timeout", "metadataCacheEnabled", "metadataCacheMinutes", "username", "password", "filters",
    ]

    /// `POST /api/management/feeds/create-pair` with `{"upstream": URL, "unapprovedFeed"?: "unapproved-conda",
    /// "approvedFeed"?: "approved-conda", "connector"?: name, "filters"?, "username"?, "password"?, "timeout"?,
    /// "metadataCacheEnabled"?, "metadataCacheMinutes"?}`: creates a connector to `upstream` (named after the URL
    /// unless `connector` is given: `https://repo.anaconda.com/pkgs/main` → `pkgs-main`), a proxy feed using it, and
    /// an empty hosted feed → 201 `{"connector": {...}, "unapprovedFeed": {...}, "approvedFeed": {...}}`.
    ///
    /// All or nothing: if a step fails, what the earlier steps created is deleted again before the error is returned.
    /// Throws `.invalidInput` (400) for a missing or bad field (as `connectors/create` and `feeds/create` check them,
    /// or the two feed names being equal), `.conflict` (409) when the connector or a feed name is taken.
    /// Needs Administer (server-wide).
    @Sendable func createPair(request: Request, context: SluiceRequestContext) async throws -> Response {
        try await services.access.require(.administer, feed: nil, identity: context.identity)
        let fields = try await RequestFields.read(from: request)
        guard let upstream = try fields.string("upstream"), !upstream.isEmpty else {
            throw SluiceError.invalidInput(
                "'upstream' is required: the channel to proxy, e.g. https://repo.anaconda.com/pkgs/main.")
        }
        let unapprovedName = try nonEmpty(fields.string("unapprovedFeed")) ?? Self.defaultUnapprovedFeed
        let approvedName = try nonEmpty(fields.string("approvedFeed")) ?? Self.defaultApprovedFeed
        try ChannelNames.validateFeedName(unapprovedName)
        try ChannelNames.validateFeedName(approvedName)
        guard unapprovedName != approvedName else {
            throw SluiceError.invalidInput("'unapprovedFeed' and 'approvedFeed' must be different feeds.")
        }
        let connectorName =
            try nonEmpty(fields.string("connector")) ?? ConnectorRequest.derivedName(fromUpstream: upstream)
        var connectorFields = RequestFields(values: ["name": .string(connectorName), "url": .string(upstream)])
        for key in Self.pairConnectorFields {
            connectorFields.values[key] = fields.values[key]
        }
        let connector = try ConnectorRequest.newConnector(from: connectorFields)
        let unapproved = Feed(
            name: unapprovedName, kind: .proxy,
            description: "Proxy of \(connector.url); packages wait here until they are approved.",
            connectors: [connector.name])
        let approved = Feed(
            name: approvedName, kind: .hosted, description: "Packages approved from \(unapprovedName).")

        let metadata = services.metadata
        let logger = context.logger
        do {
            try await metadata.createConnector(connector)
            do {
                try await metadata.createFeed(unapproved)
                do {
                    try await metadata.createFeed(approved)
                } catch {
                    await undo("feed '\(unapprovedName)'", logger: logger) {
                        _ = try await metadata.deleteFeed(named: unapprovedName)
                    }
                    throw error
                }
            } catch {
                await undo("connector '\(connector.name)'", logger: logger) {
                    _ = try await metadata.deleteConnector(named: connector.name)
                }
                throw error
            }
        } catch var error as SluiceError {
            error.message += " Nothing was created."
            throw error
        }
        logger.info(
            "Created proxy feed pair",
            metadata: [
                "connector": "\(connector.name)", "url": "\(connector.url)", "unapprovedFeed": "\(unapprovedName)",
                "approvedFeed": "\(approvedName)", "user": "\(context.userName ?? "-")",
            ])
        return JSONResponse.make(
            .object([
                "connector": connector.apiJSON(feeds: [unapprovedName]),
                "unapprovedFeed": unapproved.apiJSON,
                "approvedFeed": approved.apiJSON,
            ]),
            status: .created)
    }

    /// Runs one rollback step of `create-pair`; a failure is logged (the original error is what the client gets).
    private func undo(_ what: String, logger: Logger, _ step: () async throws -> Void) async {
        do {
            try await step()
        } catch {
            logger.error(
                "create-pair could not undo a step; remove it by hand",
                metadata: ["created": "\(what)", "error": "\(error)"])
        }
    }

    private func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}
