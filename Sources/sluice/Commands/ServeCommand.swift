import ArgumentParser
import Foundation
import Logging
import SluiceServer

/// `sluice serve`: runs the Sluice server until SIGTERM or SIGINT.
///
/// Settings come from flags > environment (`SLUICE_HOST`, `SLUICE_PORT`, `SLUICE_DATA_DIR`, `SLUICE_CONFIG`, ...)
/// > the YAML file > defaults, resolved by `SluiceConfiguration.load(configFile:environment:overrides:)`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Sluice server.",
        discussion: """
            With no options it listens on http://127.0.0.1:8624 and keeps its SQLite database and package files \
            under ./sluice-data. On first start it creates the Admin user, with the password from \
            SLUICE_ADMIN_PASSWORD or a generated one that is logged once. See sluice.example.yml for every setting.
            """
    )

    @Option(help: ArgumentHelp("Address to listen on (env: SLUICE_HOST; default 127.0.0.1).", valueName: "address"))
    var host: String?

    @Option(help: ArgumentHelp("TCP port (env: SLUICE_PORT; default 8624).", valueName: "port"))
    var port: Int?

    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp("Data directory (env: SLUICE_DATA_DIR; default ./sluice-data).", valueName: "path")
    )
    var dataDirectory: String?

    @Option(help: ArgumentHelp("YAML configuration file (env: SLUICE_CONFIG).", valueName: "file"))
    var config: String?

    @Option(
        name: .customLong("log-level"),
        help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (env: SLUICE_LOG_LEVEL).")
    )
    var logLevel: String?

    func validate() throws {
        if let port, !(0...65535).contains(port) {
            throw ValidationError("--port must be between 0 and 65535, got \(port).")
        }
        if let level = logLevel, Logger.Level(rawValue: level) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical.")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let levelName = logLevel ?? environment["SLUICE_LOG_LEVEL"] ?? "info"
        let level = Logger.Level(rawValue: levelName) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sluice")

        let configuration: SluiceConfiguration
        do {
            configuration = try SluiceConfiguration.load(
                configFile: config,
                environment: environment,
                overrides: .init(host: host, port: port, dataDirectory: dataDirectory)
            )
        } catch {
            throw CLIError("Invalid configuration: \(error.message)")
        }
        try await runServer(configuration: configuration, logger: logger)
    }
}
