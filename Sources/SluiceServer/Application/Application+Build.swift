import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SluiceCore
import SluiceStorage
import SluiceUpstream

/// Builds the router of a Sluice server over `services`: health, the management and package APIs, security
/// management, and the conda channel. Tests use it with memory stores and `app.test(.router)`.
///
/// The wrappers, outermost first, and why in this order:
/// 1. ``SluiceErrorMiddleware`` on the whole router, so that every error, including those of the authentication
///    middleware (401, 429) and Hummingbird's own 404, leaves as one JSON error shape (and unknown errors are
///    logged once);
/// 2. ``AuthenticationMiddleware`` on the whole router too, so that every route — channel and API alike — sees who
///    is asking in `context.identity` (anonymous without credentials). It only authenticates; it sits inside the
///    error middleware so that its 401/429 get the JSON shape and the `WWW-Authenticate`/`Retry-After` headers.
/// 3. Authorization is per handler: each one calls `services.access.require(task, feed:, identity:)` for the task
///    the contract gives it (view on `/conda/<feed>/**`, publish for uploads, administer for connectors, ...), since
///    only the handler knows the feed. `/health` asks for nothing.
///
/// `downloads` counts package-file downloads; nil makes one over `services.metadata` (when it is a
/// `DownloadCountStore`), which then is never flushed by a service: pass the one ``DownloadCountFlusher`` flushes.
public func buildRouter(
    services: SluiceServices, logger: Logger, downloads: DownloadCounter? = nil
) -> Router<SluiceRequestContext> {
    let router = Router(context: SluiceRequestContext.self)
    router.add(middleware: SluiceErrorMiddleware())
    router.add(middleware: AuthenticationMiddleware(access: services.access))

    HealthController(services: services).addRoutes(to: router)

    let api = router.group("api")
    let packages = PackageController(services: services)
    packages.addReadRoutes(to: api.group("packages"))
    packages.addWriteRoutes(to: api.group("packages"))
    FeedManagementController(services: services).addRoutes(to: api.group("management/feeds"))
    ConnectorManagementController(services: services).addRoutes(to: api.group("management/connectors"))
    PromotionController(services: services).addRoutes(to: api.group("promotions"))
    SecurityManagementController(services: services).addRoutes(to: router.group("api/security"))
    APIKeyController(services: services).addRoutes(to: router.group("api/api-keys"))
    EventLogController(services: services).addRoutes(to: router.group("api/events"))
    ComplianceController(services: services).addRoutes(to: router.group("api/compliance"))

    let access = services.access
    let uploader = PackageUploader(services: services)
    var channel = ChannelController(
        publisher: services.publisher,
        metadata: services.metadata,
        blobs: services.blobs,
        mirror: services.upstreamMirror,
        configuration: .init(
            repodataMaxAge: services.configuration.channel.repodataMaxAge,
            gzipJSON: services.configuration.channel.gzipJSON,
            serveShards: services.configuration.channel.serveShards),
        uploadHandler: { request, context, feed, subdir, filename in
            // `PUT /conda/{feed}/{subdir}/{filename}`: the same upload, with the subdir from the URL enforced.
            try await access.require(.publishPackages, feed: feed, identity: context.identity)
            return try await uploader.upload(
                request: request, context: context, feed: feed, filename: filename, expectedSubdir: subdir)
        })
    channel.access = access
    channel.shardArchive = services.shardArchive
    channel.compliance = services.complianceGate
    channel.downloads = downloads ?? DownloadCounter(store: services.metadata as? any DownloadCountStore)
    channel.addRoutes(to: router)
    WebUIController(services: services).addRoutes(to: router)
    return router
}

/// Builds the Sluice server for `configuration`: creates the data directory, opens the SQLite database and the blob
/// folder under it, creates the `Admin` user and the default privileges on first start, and returns the application
/// (not yet running). When it runs it logs `Sluice is ready at http://HOST:PORT/` once listening, and closes the
/// database after the server stopped.
/// - Throws: `SluiceError.storageFailure` if the data directory, the database or the blob folder cannot be opened.
public func buildApplication(
    configuration: SluiceConfiguration, logger: Logger
) async throws -> some ApplicationProtocol {
    let dataDirectory = configuration.dataDirectoryURL
    do {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
    } catch {
        throw SluiceError(
            .storageFailure, "Cannot create the data directory '\(dataDirectory.path)'; check storage.dataDirectory.",
            cause: error)
    }
    let metadata = try await SQLMetadataStore.sqlite(file: configuration.sqliteFileURL, logger: logger)
    // One HTTP client for every upstream; redirects are followed (AsyncHTTPClient drops `Authorization` when a
    // redirect leaves the origin, so upstream credentials only go to that upstream). A refused connect fails at once
    // (a prompt 502) instead of being retried until the channel timeout; see `UpstreamClient.makeHTTPClient`.
    let httpClient = UpstreamClient.makeHTTPClient()
    let services: SluiceServices
    do {
        let blobs = try FileSystemBlobStore(root: dataDirectory.appendingPathComponent("blobs", isDirectory: true))
        // Shards in a store of their own, so that no package blob can ever be served as a shard (and back).
        let shardBlobs = try FileSystemBlobStore(
            root: dataDirectory.appendingPathComponent("shards", isDirectory: true))
        try await AdminBootstrap.ensureAdminUser(
            metadata: metadata, initialPassword: configuration.admin.initialPassword, logger: logger)
        try await SecurityBootstrap.installDefaults(security: metadata, logger: logger)
        services = try SluiceServices(
            configuration: configuration, metadata: metadata, blobs: blobs,
            temporaryDirectory: blobs.temporaryDirectory, httpClient: httpClient, shardBlobs: shardBlobs,
            logger: logger)
    } catch {
        try? await httpClient.shutdown()
        try? await metadata.shutdown()
        throw error
    }
    logger.info(
        "Sluice data",
        metadata: ["dataDirectory": "\(dataDirectory.path)", "database": "\(configuration.sqliteFileURL.path)"])

    let host = configuration.server.host
    let downloads = DownloadCounter(store: metadata)
    return Application(
        router: buildRouter(services: services, logger: logger, downloads: downloads),
        configuration: .init(
            address: .hostname(host, port: configuration.server.port),
            serverName: "Sluice/\(SluiceVersion.current)"),
        // Stopped in reverse order after the server: the shard collector flushes pending shard writes while the
        // database is still open.
        services: [
            MetadataStoreCloser(store: metadata), DownloadCountFlusher(counter: downloads, logger: logger),
            HTTPClientCloser(client: httpClient),
            ShardArchiveCollector(archive: services.shardArchive, logger: logger),
            ComplianceScheduler(service: services.compliance),
        ],
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? configuration.server.port
            let shownHost = host.contains(":") ? "[\(host)]" : host
            logger.notice("Sluice is ready at http://\(shownHost):\(port)/")
        },
        logger: logger)
}

/// Runs the Sluice server (`sluice serve`) until SIGTERM or SIGINT, then stops gracefully: in-flight requests finish,
/// the listener closes, the database closes.
/// - Throws: the errors of ``buildApplication(configuration:logger:)``, or the server's if it cannot bind.
public func runServer(configuration: SluiceConfiguration, logger: Logger) async throws {
    let application = try await buildApplication(configuration: configuration, logger: logger)
    try await application.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    logger.info("Sluice stopped")
}

/// Shuts the upstream HTTP client down once the application shuts down (listed before the server, so it stops after
/// it: no request is still proxying).
struct HTTPClientCloser: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

/// Closes the database once the application shuts down (it is listed before the server, so it stops after it).
struct MetadataStoreCloser: Service {
    let store: SQLMetadataStore

    func run() async throws {
        try? await gracefulShutdown()
        try await store.shutdown()
    }
}
