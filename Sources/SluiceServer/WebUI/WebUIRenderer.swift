import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import SluiceCore

/// Renders the web UI's pages: a page template into the layout, with the navigation, the signed-in user and the
/// CSRF token, as an HTML response with the UI's security headers.
enum WebUIRenderer {
    /// Every template, registered by name. Built once; a template that does not parse is a programming error that
    /// the router tests catch on first render.
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        let templates: [(String, String)] = [
            ("layout", LayoutTemplates.layout), ("signin", LayoutTemplates.signIn), ("error", LayoutTemplates.error),
            ("feeds", FeedTemplates.list), ("feed-new", FeedTemplates.create), ("feed", FeedTemplates.feed),
            ("package", PackageTemplates.package), ("connectors", ConnectorTemplates.list),
            ("connector", ConnectorTemplates.connector), ("users", AdminTemplates.users),
            ("groups", AdminTemplates.groups), ("permissions", AdminTemplates.permissions),
            ("api-keys", AdminTemplates.apiKeys), ("events", AdminTemplates.events),
            ("vulnerabilities", ComplianceTemplates.vulnerabilities), ("policies", ComplianceTemplates.policies),
        ]
        for (name, text) in templates {
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("Web UI template '\(name)' does not parse: \(error)")
            }
        }
        return library
    }()

    /// The navigation: feeds for everyone; connectors and administration for administrators; API keys for every
    /// signed-in user (their personal keys).
    static func navigation(viewer: WebViewer, active: String) -> [[String: Any]] {
        var items: [(String, String, String)] = [("feeds", "Feeds", "/ui/feeds")]
        if viewer.isAdministrator {
            items += [
                ("connectors", "Connectors", "/ui/connectors"), ("users", "Users", "/ui/admin/users"),
                ("groups", "Groups", "/ui/admin/groups"),
                ("permissions", "Tasks / Permissions", "/ui/admin/permissions"),
            ]
        }
        if viewer.isSignedIn {
            items.append(("api-keys", "API Keys", "/ui/admin/api-keys"))
        }
        if viewer.isAdministrator {
            items += [
                ("events", "Event Log", "/ui/admin/events"),
                ("vulnerabilities", "Vulnerabilities", "/ui/admin/vulnerabilities"),
                ("policies", "Policies", "/ui/admin/policies"),
            ]
        }
        return items.map { ["key": $0.0, "label": $0.1, "href": $0.2, "active": $0.0 == active] }
    }

    /// Renders `template` with `data` inside the layout.
    /// - Parameters:
    ///   - active: the navigation item to highlight.
    ///   - flash: a message shown above the page (`ok`, `error` or `note`).
    static func page(
        _ template: String, title: String, data: [String: Any], viewer: WebViewer, active: String = "",
        flash: Flash? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        var data = clean(data)
        data["csrf"] = viewer.csrfToken
        data["signedIn"] = viewer.isSignedIn
        data["isAdministrator"] = viewer.isAdministrator
        let body = library.render(data, withTemplate: template) ?? ""
        var layout: [String: Any] = [
            "title": title, "body": body, "nav": navigation(viewer: viewer, active: active),
            "signedIn": viewer.isSignedIn, "userName": viewer.userName ?? "", "csrf": viewer.csrfToken,
            "assetVersion": WebUIAssets.version,
        ]
        if let flash { layout["flash"] = ["kind": flash.kind.rawValue, "message": flash.message] }
        return html(library.render(layout, withTemplate: "layout") ?? "", status: status)
    }

    /// `data` without its nil values (nested dictionaries and arrays too): Mustache would treat a boxed `nil` as a
    /// value and render its section, so pages may write `"next": link as String?` and get no section when nil.
    static func clean(_ data: [String: Any]) -> [String: Any] {
        var result: [String: Any] = [:]
        for (key, value) in data {
            if let value = clean(value: value) { result[key] = value }
        }
        return result
    }

    private static func clean(value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return nil }
            return clean(value: wrapped)
        }
        if let dictionary = value as? [String: Any] { return clean(dictionary) }
        if let array = value as? [[String: Any]] { return array.map { clean($0) } }
        return value
    }

    /// An HTML response with the UI's headers: no caching, a Content-Security-Policy that allows only the UI's own
    /// script and stylesheet (no inline code), no framing, no MIME sniffing.
    static func html(_ text: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers = securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers.append(contentsOf: extra)
        let buffer = ByteBuffer(string: text)
        headers[.contentLength] = String(buffer.readableBytes)
        return Response(status: status, headers: headers, body: .init(byteBuffer: buffer))
    }

    static var securityHeaders: HTTPFields {
        var headers = HTTPFields()
        headers[.contentSecurityPolicy] =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        return headers
    }

    /// A 303 to `location` (after a form post), with extra headers (cookies).
    static func redirect(
        _ location: String, status: HTTPResponse.Status = .seeOther, headers extra: HTTPFields = [:]
    ) -> Response {
        var headers = securityHeaders
        headers[.location] = location
        headers[.contentLength] = "0"
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers)
    }
}

/// A message shown at the top of the next page.
struct Flash: Sendable {
    enum Kind: String, Sendable {
        case ok, error, note
    }

    var kind: Kind
    var message: String

    static func ok(_ message: String) -> Flash { Flash(kind: .ok, message: message) }
    static func error(_ message: String) -> Flash { Flash(kind: .error, message: message) }
}

/// How the UI shows numbers and dates.
enum WebUIFormat {
    /// `1.2 MB`, `830 KB`, `512 B` (decimal units, as conda does).
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[unit])
    }

    /// `2026-11-27 19:30 UTC`.
    static func date(_ date: Date?) -> String {
        guard let date else { return "—" }
        let components = Calendar(identifier: .gregorian).dateComponents(
            in: TimeZone(identifier: "UTC")!, from: date)
        return String(
            format: "%04d-%02d-%02d %02d:%02d UTC", components.year ?? 0, components.month ?? 0, components.day ?? 0,
            components.hour ?? 0, components.minute ?? 0)
    }

    /// `12,345`.
    static func count(_ value: Int) -> String {
        var digits = Array(String(value))
        var index = digits.count - 3
        while index > 0 {
            digits.insert(",", at: index)
            index -= 3
        }
        return String(digits)
    }

    /// Percent-encodes a path segment or query value.
    static func urlComponent(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
