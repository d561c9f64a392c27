import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SluiceCore
import SluiceStorage

/// Builds the router of a Sluice server over `services`: health, the management and package APIs, and the conda
/// channel. Tests use it with memory stores and `app.test(.router)`.
///
/// The wrappers, outermost first, and why in this order:
/// 1. ``SluiceErrorMiddleware`` on the whole router, so that every error, including those of the authentication
///    middleware and Hummingbird's own 404, leaves as one JSON error shape (and unknown errors are logged once);
/// 2. ``AdminAuthenticationMiddleware`` only on the `/api` routes that change state; reads (`/health`,
///    `GET /api/packages/{feed}/versions`, `/conda/**`) stay anonymous. The conda-native upload route lives in the
///    channel controller, so its handler authenticates itself with the same ``AdminAuthenticator``.
public func buildRouter(services: SluiceServices, logger: Logger) -> Router<SluiceRequestContext> {
    let router = Router(context: SluiceRequestContext.self)
    router.add(middleware: SluiceErrorMiddleware())

    HealthController(services: services).addRoutes(to: router)

    let packages = PackageController(services: services)
    packages.addReadRoutes(to: router.group("api/packages"))

    let adminAPI = router.group("api").add(
        middleware: AdminAuthenticationMiddleware(authenticator: services.authenticator))
    FeedManagementController(services: services).addRoutes(to: adminAPI.group("management/feeds"))
    ConnectorManagementController(services: services).addRoutes(to: adminAPI.group("management/connectors"))
    packages.addWriteRoutes(to: adminAPI.group("packages"))
    PromotionController(services: services).addRoutes(to: adminAPI.group("promotions"))

    let authenticator = services.authenticator
    let uploader = PackageUploader(services: services)
    let channel = ChannelController(
        publisher: services.publisher,
        metadata: services.metadata,
        blobs: services.blobs,
        mirror: services.upstreamMirror,
        configuration: .init(
            repodataMaxAge: services.configuration.channel.repodataMaxAge,
            gzipJSON: services.configuration.channel.gzipJSON),
        uploadHandler: { request, context, feed, subdir, filename in
            // `PUT /conda/{feed}/{subdir}/{filename}`: the same upload, with the subdir from the URL enforced.
            var context = context
            context.userName = try await authenticator.authenticateAdmin(authorization: request.headers[.authorization])
            return try await uploader.upload(
                request: request, context: context, feed: feed, filename: filename, expectedSubdir: subdir)
        })
    channel.addRoutes(to: router)
    return router
}

/// Builds the Sluice server for `configuration`: creates the data directory, opens the SQLite database and the blob
/// folder under it, creates the `Admin` user on first start, and returns the application (not yet running). When it
/// runs it logs `Sluice is ready at http://HOST:PORT/` once listening, and closes the database after the server
/// stopped.
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
    // redirect leaves the origin, so upstream credentials only go to that upstream).
    let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
    let services: SluiceServices
    do {
        let blobs = try FileSystemBlobStore(root: dataDirectory.appendingPathComponent("blobs", isDirectory: true))
        try await AdminBootstrap.ensureAdminUser(
            metadata: metadata, initialPassword: configuration.admin.initialPassword, logger: logger)
        services = try SluiceServices(
            configuration: configuration, metadata: metadata, blobs: blobs,
            temporaryDirectory: blobs.temporaryDirectory, httpClient: httpClient, logger: logger)
    } catch {
        try? await httpClient.shutdown()
        try? await metadata.shutdown()
        throw error
    }
    logger.info(
        "Sluice data",
        metadata: ["dataDirectory": "\(dataDirectory.path)", "database": "\(configuration.sqliteFileURL.path)"])

    let host = configuration.server.host
    return Application(
        router: buildRouter(services: services, logger: logger),
        configuration: .init(
            address: .hostname(host, port: configuration.server.port),
            serverName: "Sluice/\(SluiceVersion.current)"),
        services: [MetadataStoreCloser(store: metadata), HTTPClientCloser(client: httpClient)],
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
