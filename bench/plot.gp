# gnuplot script for bench/run.sh. Left: W1, W2b and W3 as ratios to the memset of their table
# bytes, per format (data index 0). Right: one page per call (W4 map, W4u unmap, W4p protect) as
# ratios to a plain hand-written walker in the same run, by a ptlib call and by a Cursor (index 1).
# Called with -e "datafile='...'; outfile='...'".
set terminal pngcairo size 1500,560 font "sans,10"
set output outfile
set multiplot layout 1,2
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -35 left
set yrange [0:*]
set grid ytics
set datafile missing "-"
set key outside top center horizontal
set title "build time / memset of the same table bytes (lower is better)"
set ylabel "x memset"
plot datafile index 0 using 2:xtic(1) title "W1 (8 GiB, 4K pages)", \
     '' index 0 using 3 title "W2b (4096 x 2M)", \
     '' index 0 using 4 title "W3 (100k random pages)", \
     1.3 with lines dashtype 2 lw 1 lc rgb "black" title "W1/W3 target 1.3"
set title "one page per call / plain walker (lower is better)"
set ylabel "x plain walker"
plot datafile index 1 using 2:xtic(1) title "ptlib call", \
     '' index 1 using 3 title "Cursor", \
     1.0 with lines dashtype 2 lw 1 lc rgb "black" title "target 1.0"
unset multiplot
