import Foundation
import SluiceCore
import Testing

@testable import SluiceServer

@Suite("Configuration")
struct ConfigurationTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Writes `text` to a fresh temporary YAML file and returns its path.
    func writeConfig(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString).yml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func defaults() throws {
        let configuration = try SluiceConfiguration.load(configFile: nil, environment: [:], overrides: .init())
        #expect(configuration.server.host == "127.0.0.1")
        #expect(configuration.server.port == 8624)
        #expect(configuration.storage.dataDirectory == "./sluice-data")
        #expect(configuration.database.kind == "sqlite")
        #expect(configuration.database.sqliteFile == nil)
        #expect(configuration.uploads.maxSize == 2 * 1024 * 1024 * 1024)
        #expect(configuration.channel.repodataMaxAge == 60)
        #expect(configuration.channel.zstdLevel == 16)
        #expect(configuration.channel.gzipJSON == true)
        #expect(configuration.admin.initialPassword == nil)
        let cwd = FileManager.default.currentDirectoryPath
        #expect(
            configuration.sqliteFileURL.path
                == URL(fileURLWithPath: cwd).appendingPathComponent("sluice-data/sluice.sqlite").path)
    }

    @Test func exampleFileDocumentsEveryKeyWithItsDefault() throws {
        let example = Self.repositoryRoot.appendingPathComponent("sluice.example.yml").path
        let loaded = try SluiceConfiguration.load(configFile: example, environment: [:], overrides: .init())
        #expect(loaded == SluiceConfiguration())
        // Every key the loader knows (except the environment-only password) is set in the file, uncommented.
        let text = try String(contentsOfFile: example, encoding: .utf8)
        for key in ConfigurationKey.all where key.allowedInFile {
            #expect(text.contains("\n  \(key.key): "), "sluice.example.yml does not set \(key.section).\(key.key)")
            if let variable = key.environmentVariable {
                #expect(text.contains(variable), "sluice.example.yml does not name \(variable)")
            }
        }
        #expect(text.contains("SLUICE_ADMIN_PASSWORD"))
    }

    @Test func fileEnvironmentAndFlagsInOrderOfPrecedence() throws {
        let file = try writeConfig(
            """
            server:
              host: 0.0.0.0
              port: 9000
            storage:
              dataDirectory: /srv/from-file
            uploads:
              maxSize: 500MiB
            channel:
              repodataMaxAge: 30
              gzipJSON: false
            """)
        defer { try? FileManager.default.removeItem(atPath: file) }

        let fromFile = try SluiceConfiguration.load(configFile: file, environment: [:], overrides: .init())
        #expect(fromFile.server.host == "0.0.0.0")
        #expect(fromFile.server.port == 9000)
        #expect(fromFile.storage.dataDirectory == "/srv/from-file")
        #expect(fromFile.uploads.maxSize == 500 * 1024 * 1024)
        #expect(fromFile.channel.repodataMaxAge == 30)
        #expect(fromFile.channel.gzipJSON == false)
        #expect(fromFile.channel.zstdLevel == 16)

        let environment = [
            "SLUICE_PORT": "9100", "SLUICE_DATA_DIR": "/srv/from-env", "SLUICE_CHANNEL_REPODATA_MAX_AGE": "5",
            "SLUICE_UPLOADS_MAX_SIZE": "1000", "SLUICE_CHANNEL_ZSTD_LEVEL": "3", "SLUICE_ADMIN_PASSWORD": "s3cret",
            "SLUICE_DATABASE_SQLITE_FILE": "/srv/db.sqlite", "SLUICE_HOST": "",
        ]
        let fromEnvironment = try SluiceConfiguration.load(
            configFile: file, environment: environment, overrides: .init())
        #expect(fromEnvironment.server.host == "0.0.0.0", "an empty variable counts as unset")
        #expect(fromEnvironment.server.port == 9100)
        #expect(fromEnvironment.storage.dataDirectory == "/srv/from-env")
        #expect(fromEnvironment.channel.repodataMaxAge == 5)
        #expect(fromEnvironment.channel.zstdLevel == 3)
        #expect(fromEnvironment.uploads.maxSize == 1000)
        #expect(fromEnvironment.admin.initialPassword == "s3cret")
        #expect(fromEnvironment.sqliteFileURL.path == "/srv/db.sqlite")

        let fromFlags = try SluiceConfiguration.load(
            configFile: file, environment: environment,
            overrides: .init(host: "::1", port: 0, dataDirectory: "/srv/from-flag"))
        #expect(fromFlags.server.host == "::1")
        #expect(fromFlags.server.port == 0)
        #expect(fromFlags.storage.dataDirectory == "/srv/from-flag")
        #expect(fromFlags.channel.repodataMaxAge == 5)
    }

    @Test func configFileFromEnvironmentAndFlagWins() throws {
        let first = try writeConfig("server:\n  port: 1111\n")
        let second = try writeConfig("server:\n  port: 2222\n")
        defer {
            try? FileManager.default.removeItem(atPath: first)
            try? FileManager.default.removeItem(atPath: second)
        }
        let viaEnvironment = try SluiceConfiguration.load(
            configFile: nil, environment: ["SLUICE_CONFIG": first], overrides: .init())
        #expect(viaEnvironment.server.port == 1111)
        let viaFlag = try SluiceConfiguration.load(
            configFile: second, environment: ["SLUICE_CONFIG": first], overrides: .init())
        #expect(viaFlag.server.port == 2222)
    }

    @Test func sqliteFileFromFile() throws {
        let file = try writeConfig("database:\n  kind: sqlite\n  sqliteFile: /var/lib/sluice/meta.sqlite\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let configuration = try SluiceConfiguration.load(configFile: file, environment: [:], overrides: .init())
        #expect(configuration.sqliteFileURL.path == "/var/lib/sluice/meta.sqlite")
    }

    @Test func emptyFileKeepsDefaults() throws {
        let file = try writeConfig("# nothing here\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(
            try SluiceConfiguration.load(configFile: file, environment: [:], overrides: .init())
                == SluiceConfiguration())
    }

    static let invalidFileCases: [(String, String)] = [
        ("server:\n  prot: 80\n", "server.prot"),
        ("servr:\n  port: 80\n", "Unknown section 'servr'"),
        ("channel:\n  gzipJson: true\n", "channel.gzipJson"),
        ("admin:\n  initialPassword: hunter2\n", "SLUICE_ADMIN_PASSWORD"),
        ("server:\n  port: eighty\n", "server.port must be an integer"),
        ("server:\n  port: 70000\n", "server.port must be between 0 and 65535"),
        ("server:\n  port: [1, 2]\n", "single value"),
        ("server: 8624\n", "must be a mapping"),
        ("- a\n- b\n", "mapping of sections"),
        ("channel:\n  zstdLevel: 30\n", "channel.zstdLevel must be between 1 and 22"),
        ("channel:\n  gzipJSON: maybe\n", "channel.gzipJSON must be true or false"),
        ("uploads:\n  maxSize: 2 gallons\n", "uploads.maxSize must be a byte count"),
        ("uploads:\n  maxSize: 0\n", "uploads.maxSize must be positive"),
        ("database:\n  kind: postgres\n", "database.kind 'postgres' is not supported"),
        ("server:\n  host: [unclosed\n", "not valid YAML"),
    ]

    @Test(arguments: invalidFileCases)
    func invalidFilesAreRefusedWithAClearMessage(yaml: String, expected: String) throws {
        let file = try writeConfig(yaml)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let error = #expect(throws: SluiceError.self) {
            try SluiceConfiguration.load(configFile: file, environment: [:], overrides: .init())
        }
        #expect(error?.code == .invalidInput)
        #expect(error?.message.contains(expected) == true, "message was: \(error?.message ?? "-")")
    }

    @Test func invalidEnvironmentNamesTheVariable() throws {
        let error = #expect(throws: SluiceError.self) {
            try SluiceConfiguration.load(configFile: nil, environment: ["SLUICE_PORT": "http"], overrides: .init())
        }
        #expect(error?.message.contains("SLUICE_PORT") == true)
    }

    @Test func missingFileIsAnError() throws {
        let error = #expect(throws: SluiceError.self) {
            try SluiceConfiguration.load(configFile: "/nonexistent/sluice.yml", environment: [:], overrides: .init())
        }
        #expect(error?.message.contains("/nonexistent/sluice.yml") == true)
    }

    static let byteSizeCases: [(String, Int64)] = [
        ("1234", 1234), ("10B", 10), ("1kB", 1000), ("1KiB", 1024), ("3 MB", 3_000_000),
        ("5MiB", 5 * 1024 * 1024), ("2gib", 2 * 1024 * 1024 * 1024), ("1TB", 1_000_000_000_000),
    ]

    @Test(arguments: byteSizeCases)
    func byteSizes(text: String, bytes: Int64) throws {
        #expect(try ConfigurationKey.RawValue.text(text).byteSize("uploads.maxSize", "test") == bytes)
    }
}
