"""The interactive map of the HTML reports: the plan as GeoJSON for Leaflet
(groups with everything a tooltip shows, unit outlines, moved units, label
points), Leaflet itself (vendored, inlined: the page needs no network), and
the page's own script.

Three kinds of payload:

* ``geo`` (geopandas installed, real boundaries): one feature per group, its
  units dissolved and simplified, in WGS84;
* ``units`` (no geopandas, a GeoJSON file): one feature per unit, carrying its
  group's properties;
* ``network`` (no boundaries, e.g. synthetic instances): a circle per unit at
  its coordinates and the edges inside groups, on a plain (non-geographic) plane.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ccgmerge.plots.frames import group_key, plan_geodataframe, unit_xy
from ccgmerge.plots.geometry import BNG, default_unit_source, geopandas_or_none, is_lsoa_instance
from ccgmerge.plots.style import ATTRIBUTION

__all__ = ["map_payload", "leaflet_assets", "MAP_SCRIPT", "MAP_CSS", "script_json"]

_VENDOR = Path(__file__).resolve().parent / "vendor"
_PROPS = ["number", "name", "group", "member_names", "n_units", "population", "allowance", "margin", "hwbs", "moved",
          "merged", "colour"]


def leaflet_assets() -> tuple[str, str]:
    """(leaflet.js, leaflet.css) text, vendored with ccgmerge (Leaflet 1.9.4, BSD-2-Clause); the CSS's image
    references are dropped (the reports use no marker images or layer control), so nothing is fetched."""
    js, css = _VENDOR / "leaflet.js", _VENDOR / "leaflet.css"
    for f in (js, css):
        if not f.is_file():
            raise FileNotFoundError(f"{f} is missing: reinstall ccgmerge (the HTML report inlines Leaflet from it)")
    import re

    css_text = re.sub(r"url\((?!#)[^)]*\)", "none", css.read_text(encoding="utf-8"))
    return js.read_text(encoding="utf-8"), css_text


def script_json(obj) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def _props(row) -> dict:
    out = {}
    for c in _PROPS:
        v = row[c]
        out[c] = v.item() if isinstance(v, np.generic) else v
    out["allowance"] = round(float(out["allowance"]), 2)
    out["margin"] = round(float(out["margin"]), 2)
    return out


def _round_coords(geo: dict, nd: int = 4) -> dict:
    def r(c):
        return [r(x) for x in c] if isinstance(c, (list, tuple)) and c and isinstance(c[0], (list, tuple)) else \
            [round(float(v), nd) for v in c]

    if geo.get("type") == "GeometryCollection":
        return {"type": "GeometryCollection", "geometries": [_round_coords(g, nd) for g in geo["geometries"]]}
    return {"type": geo["type"], "coordinates": r(geo["coordinates"])}


def _collection(features) -> dict:
    return {"type": "FeatureCollection", "features": features}


def map_payload(plan, boundaries=None, *, key: str | None = None, tolerance: float | None = None,
                outlines: bool = True) -> dict:
    """Everything the page's script draws for ``plan`` (see the module docstring).

    ``tolerance`` (metres) simplifies the group polygons (default: 1/2000 of the
    map's extent, about 300 m for England); ``outlines`` adds the outlines of
    the units inside groups (at most 2,000 units)."""
    plan.require_groups()
    inst = plan.instance
    table = group_key(plan)
    gpd = geopandas_or_none()
    source = boundaries
    if source is None:
        source, dkey = default_unit_source(inst)
        key = key or dkey
    base = {"groups_total": len(table), "attribution": ATTRIBUTION, "lsoa": is_lsoa_instance(inst)}
    if source is not None and gpd is not None:
        try:
            return {**base, **_geo_payload(plan, source, key, tolerance, gpd, outlines)}
        except ValueError:
            if boundaries is not None:
                raise
    if source is not None and str(source).lower().endswith((".geojson", ".json")):
        units = _units_payload(plan, table, source, key or "ccg_code")
        if units is not None:
            return {**base, **units}
    return {**base, "attribution": "", **_network_payload(plan, table)}


def _geo_payload(plan, source, key, tolerance, gpd, outlines: bool) -> dict:
    from ccgmerge.plots.frames import dissolve

    groups = plan_geodataframe(plan, source, key=key, crs=BNG)
    x0, y0, x1, y1 = groups.total_bounds
    tol = tolerance if tolerance is not None else max(x1 - x0, y1 - y0) / 2000
    shapes = groups.geometry.simplify(tol, preserve_topology=True)
    wgs = gpd.GeoSeries(shapes, crs=groups.crs).to_crs(4326)
    points = gpd.GeoSeries(groups.geometry.representative_point(), crs=groups.crs).to_crs(4326)
    feats = []
    for (_, row), geom, pt in zip(groups.iterrows(), wgs, points):
        p = _props(row)
        p["label_at"] = [round(pt.y, 5), round(pt.x, 5)]
        feats.append({"type": "Feature", "properties": p, "geometry": _round_coords(geom.__geo_interface__)})
    out = {"kind": "geo", "groups": _collection(feats)}
    units = plan_geodataframe(plan, source, key=key, crs=BNG, units=True)
    if outlines and len(units) <= 2000:  # unit outlines inside groups (CCGs, a county's LSOAs)
        lines = units.geometry.simplify(tol, preserve_topology=True).boundary
        lines = gpd.GeoSeries(lines, crs=units.crs).to_crs(4326)
        out["lines"] = _collection([{"type": "Feature", "properties": {}, "geometry": _round_coords(g.__geo_interface__)}
                                    for g in lines if g is not None and not g.is_empty])
    if not plan.instance.singleton_baseline:
        moved = units[units["moved"]]
        if len(moved):
            m = dissolve(moved[["number", "geometry"]], "number")
            m = gpd.GeoSeries(m.geometry.simplify(tol / 2, preserve_topology=True), crs=units.crs).to_crs(4326)
            out["moved"] = _collection([{"type": "Feature", "properties": {"number": int(n)},
                                         "geometry": _round_coords(g.__geo_interface__)} for n, g in m.items()])
            out["moved_units"] = int(len(moved))
        base = dissolve(units[["baseline", "geometry"]].copy(), "baseline")
        b = gpd.GeoSeries(base.geometry.simplify(tol, preserve_topology=True).boundary, crs=units.crs).to_crs(4326)
        out["baseline"] = _collection([{"type": "Feature", "properties": {"code": str(c)},
                                        "geometry": _round_coords(g.__geo_interface__)} for c, g in b.items()])
    return out


def _units_payload(plan, table, source, key) -> dict | None:
    """Without geopandas: the unit polygons of a (WGS84) GeoJSON file, each with its group's properties."""
    data = source if isinstance(source, dict) else json.loads(Path(source).read_text())
    inst = plan.instance
    number = {}
    for pos, n in zip(table["position"], table["number"]):
        for i in plan.groups[pos]:
            number[inst.unit_codes[i]] = int(n)
    props = {int(r["number"]): _props(r) for _, r in table.iterrows()}
    u = inst.units
    if "pop_centroid_lon" in u.columns and "pop_centroid_lat" in u.columns:
        for _, r in table.iterrows():
            lead = r["group"]
            props[int(r["number"])]["label_at"] = [round(float(u.loc[lead, "pop_centroid_lat"]), 5),
                                                   round(float(u.loc[lead, "pop_centroid_lon"]), 5)]
    feats = []
    for f in data.get("features", []):
        code = str((f.get("properties") or {}).get(key))
        if code in number and f.get("geometry"):
            feats.append({"type": "Feature", "properties": {**props[number[code]], "unit": code},
                          "geometry": _round_coords(f["geometry"])})
    if len({f["properties"]["unit"] for f in feats}) < inst.n_units:
        return None
    return {"kind": "units", "groups": _collection(feats)}


def _network_payload(plan, table) -> dict:
    """No boundaries: a circle per unit on a plain plane (0-1000), edges inside groups."""
    inst = plan.instance
    xy = unit_xy(inst)
    if xy is None:
        import networkx as nx

        lay = nx.spring_layout(inst.adjacency_graph(), seed=0)
        xy = np.array([lay[c] for c in inst.unit_codes], dtype=float)
    span = max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-9)
    pos = (xy - xy.min(axis=0)) / span * 1000
    props = {int(r["position"]): _props(r) for _, r in table.iterrows()}
    gid = np.empty(inst.n_units, dtype=np.int64)
    for k, g in enumerate(plan.groups):
        gid[list(g)] = k
    pop = inst.population.astype(float)
    radius = 4 + 10 * np.sqrt(pop / max(pop.max(), 1))
    for k, g in enumerate(plan.groups):
        lead = max(g, key=lambda i: (pop[i], -i))
        props[k]["label_at"] = [round(float(pos[lead, 1]), 2), round(float(pos[lead, 0]), 2)]
    feats = [{"type": "Feature", "properties": {**props[int(gid[i])], "unit": inst.unit_codes[i],
                                                "radius": round(float(radius[i]), 1)},
              "geometry": {"type": "Point", "coordinates": [round(float(pos[i, 0]), 2), round(float(pos[i, 1]), 2)]}}
             for i in range(inst.n_units)]
    e = inst.edges
    lines = [{"type": "Feature", "properties": {"colour": props[int(gid[a])]["colour"]},
              "geometry": {"type": "LineString", "coordinates": [pos[a].round(2).tolist(), pos[b].round(2).tolist()]}}
             for a, b in (e if len(e) else []) if gid[a] == gid[b]]
    return {"kind": "network", "groups": _collection(feats), "edges": _collection(lines)}


MAP_CSS = """
.ccgm-map{height:680px;border:1px solid #bbb;background:#dfe9f2}
.ccgm-anchor{background:none;border:none}
.ccgm-label{position:absolute;transform:translate(-50%,-50%);background:rgba(255,255,255,.88);border:1px solid #333;border-radius:3px;font:bold 10px/12px system-ui,
sans-serif;text-align:center;padding:0 2px;white-space:nowrap}
.ccgm-label.above{transform:translate(-50%,-170%)}
.ccgm-label.alone{border-color:transparent;background:rgba(255,255,255,.6);font-weight:normal;color:#333}
.leaflet-tooltip{font:12px/1.35 system-ui,sans-serif;width:max-content;max-width:340px;white-space:normal}
"""

MAP_SCRIPT = r"""
window.ccgmergeMaps = window.ccgmergeMaps || {};
function ccgmEsc(s){return String(s).replace(/[&<>"']/g,function(c){return {"&":"&amp;","<":"&lt;",">":"&gt;",
  '"':"&quot;","'":"&#39;"}[c];});}
function ccgmMoney(v){var a=Math.abs(v),s=v<0?"-£":"£";return s+a.toLocaleString("en-GB",{maximumFractionDigits:0});}
function ccgmTip(p){
  return "<b>"+p.number+". "+ccgmEsc(p.name)+"</b><br>"+(p.merged?"members":"alone")+": "+ccgmEsc(p.member_names)+
    "<br>population "+p.population.toLocaleString("en-GB")+"<br>allowance "+ccgmMoney(p.allowance)+
    ", margin "+ccgmMoney(p.margin)+"<br>HWBs: "+ccgmEsc(p.hwbs)+"<br>people moved: "+p.moved.toLocaleString("en-GB");
}
function ccgmergeMap(id, data){
  var el=document.getElementById(id), simple=data.kind==="network";
  var map=L.map(el,{crs:simple?L.CRS.Simple:L.CRS.EPSG3857,zoomSnap:0.25,minZoom:simple?-5:4});
  map.attributionControl.setPrefix("Leaflet");
  if(data.attribution){map.attributionControl.addAttribution(ccgmEsc(data.attribution));}
  var byNumber={}, base={weight:simple?1:0.9,color:"#333",opacity:0.9,fillOpacity:0.82};
  function styleOf(f){return L.extend({},base,{fillColor:f.properties.colour});}
  var groups=L.geoJSON(data.groups,{style:styleOf,
    pointToLayer:function(f,ll){return L.circleMarker(ll,{radius:f.properties.radius||6});},
    onEachFeature:function(f,layer){
      var p=f.properties;(byNumber[p.number]=byNumber[p.number]||[]).push(layer);
      layer.bindTooltip(ccgmTip(p)+(p.unit&&simple?"<br>unit: "+ccgmEsc(p.unit):""),{sticky:true});
      layer.on("mouseover",function(){ccgmHighlight(id,p.number,true);});
      layer.on("mouseout",function(){ccgmHighlight(id,p.number,false);});
    }}).addTo(map);
  if(data.edges){L.geoJSON(data.edges,{interactive:false,style:function(f){return {color:f.properties.colour,weight:3};}}).addTo(map);groups.bringToFront();}
  if(data.lines){L.geoJSON(data.lines,{interactive:false,style:{color:"#fff",weight:0.7,opacity:0.9}}).addTo(map);}
  if(data.moved){L.geoJSON(data.moved,{interactive:false,style:{color:"#111",weight:0.4,fillColor:"url(#ccgm-hatch)",fillOpacity:1}}).addTo(map);}
  if(data.baseline){L.geoJSON(data.baseline,{interactive:false,style:{color:"#222",weight:1.4,dashArray:"5 4"}}).addTo(map);}
  var labels=[], seen={};
  data.groups.features.forEach(function(f){
    var p=f.properties; if(!p.label_at||seen[p.number]){return;}
    seen[p.number]=true;
    var text=p.number+(data.lsoa&&data.groups_total<=30?" "+p.name.replace(/^NHS /,"").replace(/ CCG$/,""):"");
    var m=L.marker(p.label_at,{interactive:false,keyboard:false,icon:L.divIcon({className:"ccgm-anchor",iconSize:[0,0],
      html:'<div class="ccgm-label'+(p.merged?"":" alone")+(simple?" above":"")+'">'+ccgmEsc(text)+"</div>"})}).addTo(map);
    labels.push({marker:m,layers:byNumber[p.number],rank:[p.merged?0:1,-p.population]});
  });
  labels.sort(function(a,b){return a.rank[0]-b.rank[0]||a.rank[1]-b.rank[1];});
  function declutter(){  // most important first; a label is hidden when its group is tiny or it would cover another
    var placed=[];
    labels.forEach(function(l){
      var b=L.latLngBounds([]);l.layers.forEach(function(x){b.extend(x.getBounds?x.getBounds():x.getLatLng());});
      var a=map.latLngToContainerPoint(b.getNorthWest()),c=map.latLngToContainerPoint(b.getSouthEast());
      var box=l.marker.getElement().firstChild, show=simple||Math.min(Math.abs(c.x-a.x),Math.abs(c.y-a.y))>=12;
      l.marker.getElement().style.display=show?"":"none";
      if(!show){return;}
      var r=box.getBoundingClientRect();
      if(placed.some(function(q){return r.left<q.right&&q.left<r.right&&r.top<q.bottom&&q.top<r.bottom;})){
        l.marker.getElement().style.display="none";return;}
      placed.push(r);
    });
  }
  map.fitBounds(groups.getBounds(),{padding:[8,8]});
  map.on("zoomend",declutter);declutter();
  el.setAttribute("data-rendered-groups",String(Object.keys(byNumber).length));
  window.ccgmergeMaps[id]={map:map,byNumber:byNumber};
}
function ccgmHighlight(id,number,on){
  var m=window.ccgmergeMaps[id]; if(!m||!m.byNumber[number]){return;}
  m.byNumber[number].forEach(function(l){l.setStyle(on?{weight:3,color:"#000"}:{weight:m.map.options.crs===L.CRS.Simple?1:0.9,color:"#333"});
    if(on&&l.bringToFront){l.bringToFront();}});
  document.querySelectorAll('[data-map="'+id+'"] tr[data-group="'+number+'"]').forEach(function(r){r.classList.toggle("hl",on);});
}
"""
