import Foundation
import SluiceCore
import Yams

extension SluiceConfiguration {
    /// The environment variable that names the configuration file.
    public static let configFileVariable = "SLUICE_CONFIG"
    /// The environment variable that holds the initial `Admin` password.
    public static let adminPasswordVariable = "SLUICE_ADMIN_PASSWORD"

    /// Loads the configuration: `overrides` (flags) > `environment` > the YAML file > defaults.
    ///
    /// The file is `configFile` if given, else `$SLUICE_CONFIG` if set; without either only the environment and the
    /// flags apply. Empty environment values count as unset.
    /// - Throws: `SluiceError.invalidInput` when the file cannot be read or parsed, has an unknown section or key, or
    ///   a value has the wrong type or is out of range (the message names the key and where the value came from).
    public static func load(
        configFile: String?,
        environment: [String: String],
        overrides: Overrides = .init()
    ) throws(SluiceError) -> SluiceConfiguration {
        var configuration = SluiceConfiguration()
        let environment = environment.filter { !$0.value.isEmpty }

        if let path = configFile ?? environment[configFileVariable] {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw SluiceError(
                    .invalidInput, "Cannot read the configuration file '\(path)': \(error.localizedDescription)",
                    cause: error)
            }
            try configuration.apply(yaml: text, source: path)
        }

        for setting in ConfigurationKey.all {
            guard let variable = setting.environmentVariable, let value = environment[variable] else { continue }
            try setting.apply(.text(value), &configuration, "environment variable \(variable)")
        }
        if let password = environment[adminPasswordVariable] {
            configuration.admin.initialPassword = password
        }

        if let host = overrides.host { configuration.server.host = host }
        if let port = overrides.port { configuration.server.port = port }
        if let dataDirectory = overrides.dataDirectory { configuration.storage.dataDirectory = dataDirectory }

        try configuration.validate()
        return configuration
    }

    /// Parses a YAML document and applies the keys it sets (used by ``load(configFile:environment:overrides:)``).
    /// - Throws: `SluiceError.invalidInput` on bad YAML, unknown sections or keys, or bad values.
    public mutating func apply(yaml text: String, source: String) throws(SluiceError) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw SluiceError(
                .invalidInput, "The configuration file '\(source)' is not valid YAML: \(error)", cause: error)
        }
        guard let root, root.null == nil else { return }  // An empty file sets nothing.
        guard let sections = root.mapping else {
            throw .invalidInput(
                "The configuration file '\(source)' must be a mapping of sections (server, storage, ...).")
        }
        let knownSections = ConfigurationKey.sections
        for (sectionNode, body) in sections {
            let section = sectionNode.string ?? ""
            guard knownSections.contains(section) else {
                throw .invalidInput(
                    "Unknown section '\(section)' in the configuration file '\(source)'\(Self.line(sectionNode)). "
                        + "Known sections: \(knownSections.joined(separator: ", ")).")
            }
            if body.null != nil { continue }
            guard let keys = body.mapping else {
                throw .invalidInput(
                    "Section '\(section)' in the configuration file '\(source)'\(Self.line(body)) must be a mapping.")
            }
            for (keyNode, valueNode) in keys {
                let key = keyNode.string ?? ""
                guard let setting = ConfigurationKey.all.first(where: { $0.section == section && $0.key == key }) else {
                    let known = ConfigurationKey.all.filter { $0.section == section }.map(\.key)
                    throw .invalidInput(
                        "Unknown key '\(section).\(key)' in the configuration file '\(source)'\(Self.line(keyNode)). "
                            + "Known keys in '\(section)': \(known.joined(separator: ", ")).")
                }
                guard setting.allowedInFile else {
                    throw .invalidInput(
                        "'\(section).\(key)' cannot be set in the configuration file '\(source)'; "
                            + "set the environment variable \(setting.fileReplacement ?? "") instead.")
                }
                let value: ConfigurationKey.RawValue
                if valueNode.null != nil {
                    value = .null
                } else if let scalar = valueNode.scalar {
                    value = .text(scalar.string)
                } else {
                    throw .invalidInput(
                        "'\(section).\(key)' in the configuration file '\(source)'\(Self.line(valueNode)) must be a "
                            + "single value, not a list or mapping.")
                }
                try setting.apply(value, &self, "the configuration file '\(source)'")
            }
        }
    }

    /// Checks ranges and supported values.
    /// - Throws: `SluiceError.invalidInput` naming the key.
    public func validate() throws(SluiceError) {
        guard (0...65535).contains(server.port) else {
            throw .invalidInput("server.port must be between 0 and 65535, got \(server.port).")
        }
        guard !server.host.isEmpty else { throw .invalidInput("server.host must not be empty.") }
        guard !storage.dataDirectory.isEmpty else { throw .invalidInput("storage.dataDirectory must not be empty.") }
        guard database.kind == "sqlite" else {
            throw .invalidInput("database.kind '\(database.kind)' is not supported; the only kind is 'sqlite'.")
        }
        if let file = database.sqliteFile, file.isEmpty {
            throw .invalidInput(
                "database.sqliteFile must not be empty; leave it unset for <dataDirectory>/sluice.sqlite.")
        }
        guard uploads.maxSize > 0 else {
            throw .invalidInput("uploads.maxSize must be positive, got \(uploads.maxSize).")
        }
        guard (1...22).contains(channel.zstdLevel) else {
            throw .invalidInput("channel.zstdLevel must be between 1 and 22, got \(channel.zstdLevel).")
        }
        guard channel.repodataMaxAge >= 0 else {
            throw .invalidInput("channel.repodataMaxAge must not be negative, got \(channel.repodataMaxAge).")
        }
        guard (1...36_500).contains(channel.shardRetentionDays) else {
            throw .invalidInput(
                "channel.shardRetentionDays must be between 1 and 36500, got \(channel.shardRetentionDays).")
        }
        guard compliance.pollMinutes >= 0 else {
            throw .invalidInput("compliance.pollMinutes must not be negative, got \(compliance.pollMinutes).")
        }
        if let url = compliance.advisoryURL, URL(string: url)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            throw .invalidInput("compliance.advisoryURL must be an http or https URL, got '\(url)'.")
        }
    }

    private static func line(_ node: Node) -> String {
        node.mark.map { " (line \($0.line))" } ?? ""
    }
}

/// One configuration key: where it lives in the file, its environment variable, and how its text is parsed.
struct ConfigurationKey: Sendable {
    enum RawValue {
        case null
        case text(String)
    }

    typealias Apply = @Sendable (RawValue, inout SluiceConfiguration, String) throws(SluiceError) -> Void

    let section: String
    let key: String
    let environmentVariable: String?
    let allowedInFile: Bool
    /// For a key that may not be in the file: the environment variable to use instead.
    let fileReplacement: String?
    let apply: Apply

    /// The section names, in the order of the example file.
    static let sections = ["server", "storage", "database", "uploads", "channel", "compliance", "admin"]

    /// Every key. The environment variables are `SLUICE_<SECTION>_<KEY>` except the short, documented ones.
    static let all: [ConfigurationKey] = [
        ConfigurationKey("server", "host", env: "SLUICE_HOST") { value, configuration, source throws(SluiceError) in
            configuration.server.host = try value.string("server.host", source)
        },
        ConfigurationKey("server", "port", env: "SLUICE_PORT") { value, configuration, source throws(SluiceError) in
            configuration.server.port = try value.integer("server.port", source)
        },
        ConfigurationKey("storage", "dataDirectory", env: "SLUICE_DATA_DIR") {
            value, configuration, source throws(SluiceError) in
            configuration.storage.dataDirectory = try value.string("storage.dataDirectory", source)
        },
        ConfigurationKey("database", "kind", env: "SLUICE_DATABASE_KIND") {
            value, configuration, source throws(SluiceError) in
            configuration.database.kind = try value.string("database.kind", source)
        },
        ConfigurationKey("database", "sqliteFile", env: "SLUICE_DATABASE_SQLITE_FILE") {
            value, configuration, source throws(SluiceError) in
            if case .null = value {
                configuration.database.sqliteFile = nil
            } else {
                configuration.database.sqliteFile = try value.string("database.sqliteFile", source)
            }
        },
        ConfigurationKey("uploads", "maxSize", env: "SLUICE_UPLOADS_MAX_SIZE") {
            value, configuration, source throws(SluiceError) in
            configuration.uploads.maxSize = try value.byteSize("uploads.maxSize", source)
        },
        ConfigurationKey("channel", "repodataMaxAge", env: "SLUICE_CHANNEL_REPODATA_MAX_AGE") {
            value, configuration, source throws(SluiceError) in
            configuration.channel.repodataMaxAge = try value.integer("channel.repodataMaxAge", source)
        },
        ConfigurationKey("channel", "zstdLevel", env: "SLUICE_CHANNEL_ZSTD_LEVEL") {
            value, configuration, source throws(SluiceError) in
            configuration.channel.zstdLevel = try value.integer("channel.zstdLevel", source)
        },
        ConfigurationKey("channel", "gzipJSON", env: "SLUICE_CHANNEL_GZIP_JSON") {
            value, configuration, source throws(SluiceError) in
            configuration.channel.gzipJSON = try value.boolean("channel.gzipJSON", source)
        },
        ConfigurationKey("channel", "serveShards", env: "SLUICE_CHANNEL_SERVE_SHARDS") {
            value, configuration, source throws(SluiceError) in
            configuration.channel.serveShards = try value.boolean("channel.serveShards", source)
        },
        ConfigurationKey("channel", "shardRetentionDays", env: "SLUICE_CHANNEL_SHARD_RETENTION_DAYS") {
            value, configuration, source throws(SluiceError) in
            configuration.channel.shardRetentionDays = try value.integer("channel.shardRetentionDays", source)
        },
        ConfigurationKey("compliance", "advisoryURL", env: "SLUICE_COMPLIANCE_ADVISORY_URL") {
            value, configuration, source throws(SluiceError) in
            if case .null = value {
                configuration.compliance.advisoryURL = nil
            } else {
                let text = try value.string("compliance.advisoryURL", source)
                configuration.compliance.advisoryURL = text.isEmpty ? nil : text
            }
        },
        ConfigurationKey("compliance", "pollMinutes", env: "SLUICE_COMPLIANCE_POLL_MINUTES") {
            value, configuration, source throws(SluiceError) in
            configuration.compliance.pollMinutes = try value.integer("compliance.pollMinutes", source)
        },
        // Read by `load` itself (SLUICE_ADMIN_PASSWORD); listed so the file names it in a clear error.
        ConfigurationKey(
            "admin", "initialPassword", env: SluiceConfiguration.adminPasswordVariable, allowedInFile: false
        ) {
            _, _, _ throws(SluiceError) in
        },
    ]

    init(_ section: String, _ key: String, env: String?, allowedInFile: Bool = true, apply: @escaping Apply) {
        self.section = section
        self.key = key
        self.environmentVariable = allowedInFile ? env : nil
        self.allowedInFile = allowedInFile
        self.fileReplacement = allowedInFile ? nil : env
        self.apply = apply
    }
}

extension ConfigurationKey.RawValue {
    func string(_ key: String, _ source: String) throws(SluiceError) -> String {
        guard case .text(let text) = self else { throw .invalidInput("\(key) must not be null (\(source)).") }
        return text
    }

    func integer(_ key: String, _ source: String) throws(SluiceError) -> Int {
        let text = try string(key, source).trimmingCharacters(in: .whitespaces)
        guard let value = Int(text) else {
            throw .invalidInput("\(key) must be an integer, got '\(text)' (\(source)).")
        }
        return value
    }

    func boolean(_ key: String, _ source: String) throws(SluiceError) -> Bool {
        let text = try string(key, source).trimmingCharacters(in: .whitespaces).lowercased()
        switch text {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw .invalidInput("\(key) must be true or false, got '\(text)' (\(source)).")
        }
    }

    /// A byte count: digits with an optional unit, `B`, `kB`/`MB`/`GB`/`TB` (powers of 1000) or
    /// `KiB`/`MiB`/`GiB`/`TiB` (powers of 1024), case-insensitive.
    func byteSize(_ key: String, _ source: String) throws(SluiceError) -> Int64 {
        let text = try string(key, source).trimmingCharacters(in: .whitespaces)
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let multipliers: [String: Int64] = [
            "": 1, "b": 1,
            "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000, "tb": 1_000_000_000_000,
            "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
        ]
        guard let number = Int64(digits), let multiplier = multipliers[unit] else {
            throw .invalidInput(
                "\(key) must be a byte count such as 2147483648, 500MiB or 2GiB, got '\(text)' (\(source)).")
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw .invalidInput("\(key) is too large: '\(text)' (\(source)).") }
        return product
    }
}
