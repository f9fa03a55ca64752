package health

import (
	"fmt"
	"html"
	"html/template"
	"strconv"
	"strings"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// Chart colours (presentation attributes, so the page's CSP needs no inline style).
const (
	colorDelivered = "#2e7d32"
	colorFailed    = "#c62828"
	colorEmpty     = "#e0e0e0"
)

// Chart draws buckets as stacked bars, delivered (green) under failed (red), as an inline
// SVG: no script, no external request. Each bar has a <title> (the browser's tooltip) and
// the whole chart an accessible summary. hourly picks the label format.
func Chart(id string, buckets []Bucket, hourly bool) template.HTML {
	const h, gap = 48, 2
	barW := 10
	if !hourly {
		barW = 30
	}
	width := len(buckets)*(barW+gap) - gap
	max, delivered, failed := 0, 0, 0
	for _, b := range buckets {
		max = maxInt(max, b.Delivered+b.Failed)
		delivered += b.Delivered
		failed += b.Failed
	}
	period := "7 days"
	if hourly {
		period = "24 hours"
	}
	summary := fmt.Sprintf("Last %s: %d delivered, %d failed", period, delivered, failed)
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" class="health-chart" id="%s" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s" data-delivered="%d" data-failed="%d">`,
		html.EscapeString(id), width, h, width, h, html.EscapeString(summary), delivered, failed)
	fmt.Fprintf(&sb, `<title>%s</title>`, html.EscapeString(summary))
	for i, b := range buckets {
		x := i * (barW + gap)
		label := b.Start.UTC().Format("Mon 2 Jan")
		if hourly {
			label = b.Start.UTC().Format("15:04") + "–" + b.Start.Add(time.Hour).UTC().Format("15:04") + " UTC"
		}
		tip := html.EscapeString(fmt.Sprintf("%s: %d delivered, %d failed", label, b.Delivered, b.Failed))
		total := b.Delivered + b.Failed
		if total == 0 || max == 0 {
			fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%d" height="2" fill="%s"><title>%s</title></rect>`, x, h-2, barW, colorEmpty, tip)
			continue
		}
		full := maxInt(2, total*h/max)
		fh := b.Failed * full / total
		if b.Failed > 0 {
			fh = maxInt(fh, 2) // a single failure stays visible
		}
		dh := full - fh
		sb.WriteString(`<g class="bar">`)
		fmt.Fprintf(&sb, `<title>%s</title>`, tip)
		if dh > 0 {
			fmt.Fprintf(&sb, `<rect class="delivered" x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, x, h-dh, barW, dh, colorDelivered)
		}
		if fh > 0 {
			fmt.Fprintf(&sb, `<rect class="failed" x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, x, h-dh-fh, barW, fh, colorFailed)
		}
		sb.WriteString(`</g>`)
	}
	sb.WriteString(`</svg>`)
	return template.HTML(sb.String()) // built from numbers and escaped text only
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
