import Foundation
import SluiceCore
import SluiceUpstream

/// Turns the body of a connector management request into a checked ``Connector``; shared by
/// `connectors/create`, `connectors/update` and `feeds/create-pair`.
///
/// The fields, in ProGet's connector shape: `name`, `url`, `feedType` (`conda`), `description`, `timeout` (seconds),
/// `metadataCacheEnabled`, `metadataCacheMinutes`, `username`, `password`, `filters` (name patterns, `!` blocks).
enum ConnectorRequest {
    /// The timeouts the API accepts, in seconds.
    static let timeoutRange = 1...600
    /// The metadata cache durations the API accepts, in minutes (0 to a week).
    static let metadataCacheMinutesRange = 0...10_080

    /// A new connector from a create body: `name` and `url` are required, every other field takes its default.
    /// - Throws: `SluiceError.invalidInput` for a missing or invalid field (see ``apply(_:to:)``).
    static func newConnector(from fields: RequestFields) throws(SluiceError) -> Connector {
        guard let name = try fields.string("name"), !name.isEmpty else {
            throw .invalidInput("'name' is required.")
        }
        guard let url = try fields.string("url"), !url.isEmpty else {
            throw .invalidInput("'url' is required: the upstream channel, e.g. https://repo.anaconda.com/pkgs/main.")
        }
        var connector = Connector(name: name, url: url)
        try apply(fields, to: &connector)
        return connector
    }

    /// Applies the fields present in `fields` to `connector`, then checks the result.
    ///
    /// An absent field keeps its value. `username` and `password` given as `null` or `""` are cleared; an absent
    /// `password` keeps the stored one. `url` loses trailing slashes. `filters` are checked by
    /// `ConnectorFilter.validated(_:)` and stored trimmed.
    /// - Throws: `SluiceError.invalidInput` for a rename, a feedType other than conda, a URL that is not http(s) with
    ///   a host or that carries credentials, a timeout outside 1…600, metadataCacheMinutes outside 0…10080, a bad
    ///   filter, a password without a user name. Messages never quote the password.
    static func apply(_ fields: RequestFields, to connector: inout Connector) throws(SluiceError) {
        if let name = try fields.string("name"), name != connector.name {
            throw .invalidInput("A connector cannot be renamed; create a new one and point the feeds at it.")
        }
        if let feedType = try fields.string("feedType") {
            connector.feedType = feedType.lowercased()
        }
        if let url = try fields.string("url") {
            connector.url = normalizedURL(url)
        }
        if let description = try fields.string("description") {
            connector.description = description
        }
        if let timeout = try fields.int("timeout") {
            guard timeoutRange.contains(timeout) else {
                throw .invalidInput(
                    "'timeout' must be between \(timeoutRange.lowerBound) and \(timeoutRange.upperBound) seconds "
                        + "(got \(timeout)).")
            }
            connector.timeout = timeout
        }
        if let enabled = try fields.bool("metadataCacheEnabled") {
            connector.metadataCacheEnabled = enabled
        }
        if let minutes = try fields.int("metadataCacheMinutes") {
            guard metadataCacheMinutesRange.contains(minutes) else {
                throw .invalidInput(
                    "'metadataCacheMinutes' must be between \(metadataCacheMinutesRange.lowerBound) and "
                        + "\(metadataCacheMinutesRange.upperBound) (a week); got \(minutes).")
            }
            connector.metadataCacheMinutes = minutes
        }
        if fields.contains("username") {
            let username = try fields.string("username")
            connector.username = username?.isEmpty == false ? username : nil
        }
        if fields.contains("password") {
            let password: String?
            do {
                password = try fields.string("password")
            } catch {
                throw .invalidInput("'password' must be a string, or null to remove it.")
            }
            connector.password = password?.isEmpty == false ? password : nil
        }
        if let filters = try fields.stringList("filters") {
            connector.filters = try ConnectorFilter.validated(filters).patterns
        }
        try connector.validate()
    }

    /// `url` without surrounding whitespace and without trailing slashes after the host (so that
    /// `https://repo.anaconda.com/pkgs/main/` and `.../main` are the same upstream).
    static func normalizedURL(_ url: String) -> String {
        var result = url.trimmingCharacters(in: .whitespacesAndNewlines)
        while result.hasSuffix("/") {
            let shorter = String(result.dropLast())
            guard let components = URLComponents(string: shorter), let host = components.host, !host.isEmpty,
                !shorter.hasSuffix(":")
            else { break }
            result = shorter
        }
        return result
    }

    /// The connector name `feeds/create-pair` uses when none is given, derived from the upstream URL: the last two
    /// path segments joined with `-` (`https://repo.anaconda.com/pkgs/main` → `pkgs-main`), the only segment
    /// (`https://conda.anaconda.org/conda-forge` → `conda-forge`), or the host when the path is empty; lowercased,
    /// with characters a name may not hold replaced by `-`, at most 64 characters.
    /// - Throws: `SluiceError.invalidInput` if no valid name can be derived (then the request must name one).
    static func derivedName(fromUpstream url: String) throws(SluiceError) -> String {
        guard let components = URLComponents(string: normalizedURL(url)), let host = components.host, !host.isEmpty
        else {
            throw .invalidInput("'upstream' must be an absolute http or https URL with a host.")
        }
        let segments = components.path.split(separator: "/").map(String.init)
        let base = segments.isEmpty ? host : segments.suffix(2).joined(separator: "-")
        var name = String(
            base.lowercased().map { character -> Character in
                character.isASCII && (character.isLetter || character.isNumber || "._-".contains(character))
                    ? character : "-"
            })
        while let first = name.first, first == "." || first == "-" { name.removeFirst() }
        name = String(name.prefix(64))
        do {
            try ChannelNames.validateFeedName(name)
        } catch {
            throw .invalidInput(
                "Cannot derive a connector name from the upstream URL; give one in 'connector' (\(error.message)).")
        }
        return name
    }
}
