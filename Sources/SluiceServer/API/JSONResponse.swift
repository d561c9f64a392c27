import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// Builds the JSON responses of the REST API (compact, keys sorted).
enum JSONResponse {
    /// A response with `value` as its JSON body.
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = value.compactJSON()
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.contentLength] = String(bytes.count)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A date as the API writes it: ISO 8601 in UTC with milliseconds, e.g. `2025-01-31T12:00:00.000Z`.
    static func timestamp(_ date: Date) -> JSONValue {
        .string(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
    }
}

extension Feed {
    /// The kind a feed has with `connectors`: `proxy` when it has any, else `hosted`. The management API keeps
    /// ``Feed/kind`` equal to this on every write.
    static func kind(connectors: [String]) -> Kind {
        connectors.isEmpty ? .hosted : .proxy
    }

    /// The feed as the management API returns it:
    /// `{"name","feedType","description","active","kind","connectors","createdAt"}`, where `kind` is `proxy` when the
    /// feed has connectors and `hosted` otherwise.
    var apiJSON: JSONValue {
        .object([
            "name": .string(name),
            "feedType": .string(feedType),
            "description": .string(description),
            "active": .bool(active),
            "kind": .string(Feed.kind(connectors: connectors).rawValue),
            "connectors": .array(connectors.map(JSONValue.string)),
            "createdAt": JSONResponse.timestamp(createdAt),
        ])
    }
}

extension Connector {
    /// The connector as the management API returns it, in ProGet's shape:
    /// `{"name","feedType","url","description","timeout","metadataCacheEnabled","metadataCacheMinutes","username",
    /// "hasPassword","filters","createdAt"}`, plus `"feeds"` (the feeds that use it) when given.
    ///
    /// The password is never part of it: `hasPassword` says whether one is set.
    func apiJSON(feeds: [String]? = nil) -> JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(name),
            "feedType": .string(feedType),
            "url": .string(url),
            "description": .string(description),
            "timeout": .int(Int64(timeout)),
            "metadataCacheEnabled": .bool(metadataCacheEnabled),
            "metadataCacheMinutes": .int(Int64(metadataCacheMinutes)),
            "username": username.map(JSONValue.string) ?? .null,
            "hasPassword": .bool(password != nil),
            "filters": .array(filters.map(JSONValue.string)),
            "createdAt": JSONResponse.timestamp(createdAt),
        ]
        if let feeds {
            object["feeds"] = .array(feeds.map(JSONValue.string))
        }
        return .object(object)
    }
}

extension CachedUpstreamFile {
    /// The cached file as `GET /api/packages/{feed}/cached` lists it:
    /// `{"connector","subdir","filename","sha256","size","cachedAt","lastAccessedAt"}`.
    var apiJSON: JSONValue {
        .object([
            "connector": .string(connector),
            "subdir": .string(subdir),
            "filename": .string(filename),
            "sha256": .string(sha256),
            "size": .int(size),
            "cachedAt": JSONResponse.timestamp(cachedAt),
            "lastAccessedAt": lastAccessedAt.map(JSONResponse.timestamp) ?? .null,
        ])
    }
}

extension StoredPackage {
    /// The package file as the package API lists it.
    var apiJSON: JSONValue {
        .object([
            "name": .string(name),
            "version": .string(version),
            "build": .string(build),
            "subdir": .string(subdir),
            "filename": .string(filename),
            "sha256": .string(sha256),
            "md5": .string(md5),
            "size": .int(size),
            "uploadedAt": JSONResponse.timestamp(uploadedAt),
            "uploadedBy": uploadedBy.map(JSONValue.string) ?? .null,
        ])
    }
}

extension StoredPackage {
    /// The package file as `GET /api/packages/{feed}/versions` lists it: ``apiJSON`` plus `"downloads"`.
    func apiJSON(downloads: Int64) -> JSONValue {
        guard case .object(var fields) = apiJSON else { return apiJSON }
        fields["downloads"] = .int(downloads)
        return .object(fields)
    }
}

extension ConnectorStatus {
    /// The status as `GET /api/management/connectors/get/{name}` shows it under `"status"`:
    /// `{"health","circuit","lastRefresh","lastError","metadataHits","metadataMisses","packageHits","packageMisses",
    /// "subdirs"}` (`lastRefresh` and `lastError` are null when unknown).
    var apiJSON: JSONValue {
        .object([
            "health": .string(health),
            "circuit": .string(circuit),
            "lastRefresh": lastRefresh.map(JSONResponse.timestamp) ?? .null,
            "lastError": lastError.map(JSONValue.string) ?? .null,
            "metadataHits": .int(Int64(metadataHits)),
            "metadataMisses": .int(Int64(metadataMisses)),
            "packageHits": .int(Int64(packageHits)),
            "packageMisses": .int(Int64(packageMisses)),
            "subdirs": .array(subdirs.map(JSONValue.string)),
        ])
    }
}
